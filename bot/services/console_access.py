"""Who may use the web console and how they get in: chat links, password accounts, sessions."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import String, cast, func
from sqlmodel import Session, col, select

from bot.core.domain import LEADING_ROLES, OrgKind, RoleKind
from bot.core.records import MemberView
from bot.services.audit_trail import act_for_account
from bot.services.errors import ServiceError
from bot.services.members import Members
from storage import console
from storage.models import Member, Organization

LINK_LIFETIME = timedelta(minutes=10)
# Failed sign-ins: after this many within the window, the account (or address) waits it out.
FAILURES_ALLOWED = 5
FAILURE_WINDOW = timedelta(minutes=15)
CONSOLE_ROLES = frozenset({*LEADING_ROLES, RoleKind.COMMITTEE, RoleKind.LIAISON})
# Organizations whose officers oversee the organizations under them.
OVERSEEING = frozenset({OrgKind.COMMITTEE, OrgKind.GENERAL_BRANCH})

_hasher = PasswordHasher()


# Made at the first sign-in, not at import: argon2 takes ~64 MiB and ~0.1 s of every process.
@cache
def _dummy_hash() -> str:
    """Hashes no one's password: verifying an unknown login against it is as slow as a wrong one."""
    return _hasher.hash(secrets.token_hex(16))


def token_hash(token: str) -> str:
    """Returns the stored form of a secret token (only hashes reach the database)."""
    return hashlib.sha256(token.encode()).hexdigest()


def hash_password(password: str) -> str:
    """Hashes a console password with argon2."""
    return _hasher.hash(password)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is signed in to the console and which organizations they may see."""

    name: str
    home_org_id: int
    roles: frozenset[RoleKind]
    org_ids: frozenset[int]
    oversees: bool
    member_id: int | None = None
    account_id: int | None = None
    csrf_token: str = ""

    @property
    def admitted(self) -> bool:
        """Tells whether the principal may use the console at all (an officer, or staff)."""
        return self.oversees or bool(self.roles & CONSOLE_ROLES)

    @property
    def manages(self) -> bool:
        """Tells whether the principal may change records (not only read them)."""
        return self.oversees or bool(self.roles & LEADING_ROLES)

    def can_see(self, org_id: int) -> bool:
        """Tells whether an organization lies within the principal's scope."""
        return org_id in self.org_ids

    def leads(self, org_id: int) -> bool:
        """Tells whether the principal is a secretary or deputy of that organization (in person)."""
        return (
            self.member_id is not None
            and self.home_org_id == org_id
            and bool(self.roles & LEADING_ROLES)
        )


class _Trees:
    """Subtrees of the organization tree, kept while the tree reads the same.

    Each request asks its scope afresh: the database sums the tree up into one string (every
    id with its parent), and only when that differs from the last one are the pairs read and
    the subtrees worked out again. An equal summary is an equal tree, so nothing stale is served.
    """

    def __init__(self) -> None:
        self._held: tuple[str, dict[int | None, list[int]], dict[int, frozenset[int]]] | None = None

    def subtree(self, session: Session, org_id: int) -> frozenset[int]:
        """Returns an organization and every organization below it."""
        summary = session.exec(select(_TREE_SUMMARY)).one() or ""
        # Requests in other threads may race here: at worst both read the tree.
        held = self._held
        if held is None or held[0] != summary:
            held = (summary, _children(session), {})
            self._held = held
        found = held[2].get(org_id)
        if found is None:
            found = held[2][org_id] = _below(held[1], org_id)
        return found


_TREE_SUMMARY = func.aggregate_strings(
    cast(col(Organization.id), String)
    + ":"
    + func.coalesce(cast(col(Organization.parent_id), String), ""),
    ",",
)


def _children(session: Session) -> dict[int | None, list[int]]:
    """Reads the organization tree: each parent's children."""
    children: dict[int | None, list[int]] = {}
    for child, parent in session.exec(select(Organization.id, Organization.parent_id)).all():
        if child is not None:
            children.setdefault(parent, []).append(child)
    return children


def _below(children: dict[int | None, list[int]], org_id: int) -> frozenset[int]:
    """Returns an organization and every organization below it in the tree."""
    found, todo = {org_id}, [org_id]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return frozenset(found)


_TREES = _Trees()


@dataclass(frozen=True, slots=True)
class SignIn:
    """A fresh session: the cookie's secret and the form token bound to it."""

    token: str
    csrf_token: str


class ConsoleAccess:
    """Issues links, signs people in and out, and tells who a session belongs to."""

    def __init__(self, session: Session, now: datetime, *, idle: timedelta) -> None:
        self.session = session
        self.now = now
        self.idle = idle

    def issue_link(self, member: MemberView) -> str:
        """Makes a 10-minute single-use sign-in token for an officer; refuses plain members."""
        if not member.roles & CONSOLE_ROLES:
            raise ServiceError("console_not_allowed")
        token = secrets.token_urlsafe(32)
        console.add_link(
            self.session,
            token_hash=token_hash(token),
            member_id=member.id,
            now=self.now,
            expires_at=self.now + LINK_LIFETIME,
        )
        return token

    def sign_in_by_link(self, token: str) -> SignIn | None:
        """Trades a live link for a new session, or None when it is unknown, used or expired."""
        member_id = console.claim_link(self.session, token_hash=token_hash(token), now=self.now)
        if member_id is None:
            return None
        member = self.session.get(Member, member_id)
        if member is None or member.departed_at is not None:
            return None
        return self._start(member_id=member_id)

    def sign_in_by_password(self, login: str, password: str, *, address: str) -> SignIn | None:
        """Checks a console account's password, counting failures per account and per address."""
        keys = (f"login:{login.strip().lower()}"[:128], f"address:{address}"[:128])
        window_start = self.now - FAILURE_WINDOW
        if any(
            console.failures(self.session, key=key, window_start=window_start) >= FAILURES_ALLOWED
            for key in keys
        ):
            raise ServiceError("console_throttled", keep_writes=True)
        account = console.account_by_login(self.session, login=login.strip().lower())
        try:
            _hasher.verify(account.password_hash if account else _dummy_hash(), password)
            valid = account is not None
        except (VerificationError, InvalidHashError):
            valid = False
        if not valid or account is None or account.id is None:
            for key in keys:
                console.count_failure(
                    self.session, key=key, now=self.now, window_start=window_start
                )
            return None
        console.clear_failures(self.session, key=keys[0])
        return self._start(account_id=account.id)

    def _start(self, *, member_id: int | None = None, account_id: int | None = None) -> SignIn:
        """Stores a new session with a fresh id (never one the browser brought along)."""
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        console.add_session(
            self.session,
            token_hash=token_hash(token),
            csrf_token=csrf,
            now=self.now,
            member_id=member_id,
            account_id=account_id,
        )
        return SignIn(token=token, csrf_token=csrf)

    def principal(self, token: str) -> Principal | None:
        """Returns who a live session belongs to (and keeps it alive), or None.

        A console account's unit of work then audits its changes under the account.
        """
        found = console.touch_session(
            self.session,
            token_hash=token_hash(token),
            now=self.now,
            idle_since=self.now - self.idle,
        )
        if found is None:
            return None
        if found.member_id is not None:
            member = self.session.get(Member, found.member_id)
            if member is None or member.departed_at is not None:
                return None
            view = Members(self.session, self.now).view(member)
            return self._principal(
                name=view.name,
                org_id=view.org.id,
                roles=view.roles,
                member_id=view.id,
                csrf=found.csrf_token,
            )
        account = self.session.get(console.ConsoleAccount, found.account_id)
        if account is None or account.disabled_at is not None or account.id is None:
            return None
        # Staff have no member row: what they change is audited under their account.
        act_for_account(self.session, account.id)
        return self._principal(
            name=account.name,
            org_id=account.organization_id,
            roles=frozenset({RoleKind.SECRETARY}),
            account_id=account.id,
            csrf=found.csrf_token,
            staff=True,
        )

    def _principal(
        self,
        *,
        name: str,
        org_id: int,
        roles: frozenset[RoleKind],
        csrf: str,
        member_id: int | None = None,
        account_id: int | None = None,
        staff: bool = False,
    ) -> Principal:
        """Builds a principal whose scope is the home organization, and what it oversees."""
        home = self.session.get_one(Organization, org_id)
        oversees = staff or (home.kind in OVERSEEING and bool(roles & LEADING_ROLES))
        scope = self.subtree(org_id) if oversees else frozenset({org_id})
        return Principal(
            name=name,
            home_org_id=org_id,
            roles=roles,
            org_ids=scope,
            oversees=oversees,
            member_id=member_id,
            account_id=account_id,
            csrf_token=csrf,
        )

    def subtree(self, org_id: int) -> frozenset[int]:
        """Returns an organization and every organization below it."""
        return _TREES.subtree(self.session, org_id)

    def sign_out(self, token: str, *, everywhere: bool = False) -> None:
        """Ends this session, or every session of the same person."""
        found = console.touch_session(
            self.session,
            token_hash=token_hash(token),
            now=self.now,
            idle_since=self.now - self.idle,
        )
        if found is None:
            return
        if everywhere and found.member_id is not None:
            console.end_sessions(self.session, now=self.now, member_id=found.member_id)
        elif everywhere and found.account_id is not None:
            console.end_sessions(self.session, now=self.now, account_id=found.account_id)
        else:
            console.end_sessions(self.session, now=self.now, token_hash=token_hash(token))

    def add_account(self, *, login: str, name: str, org_code: str, password: str) -> int:
        """Creates a password account for committee staff; refuses a taken login or weak password."""
        org = self.session.exec(
            select(Organization).where(col(Organization.code) == org_code.strip().upper())
        ).first()
        if org is None or org.id is None:
            raise ServiceError("org_unknown")
        if len(password) < 12:
            raise ServiceError("console_weak_password")
        login = login.strip().lower()
        if not login or len(login) > 64 or not name.strip():
            raise ServiceError("console_bad_login")
        new_id = console.add_account(
            self.session,
            login=login,
            name=name.strip()[:100],
            organization_id=org.id,
            password_hash=hash_password(password),
            now=self.now,
        )
        if new_id is None:
            raise ServiceError("console_login_taken")
        return int(new_id)
