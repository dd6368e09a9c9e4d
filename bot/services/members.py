"""Members, their roles, their chat accounts, and single-use invites that bind the two."""

from __future__ import annotations

import secrets
from collections.abc import Collection
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, case, func, update
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot.core.domain import MemberStatus, RoleKind
from bot.core.inbound import Channel
from bot.core.names import clean_line
from bot.core.records import MemberView
from bot.services.errors import ServiceError
from bot.services.organizations import org_view
from storage.models import (
    BindFailure,
    ChatAccount,
    Invite,
    Member,
    Organization,
    Role,
    RoleTerm,
)
from storage.queries import insert_ignore, pin, run

INVITE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
INVITE_LENGTH = 8
# Refresh last_seen at most this often: the WeChat 48-hour window does not need finer detail,
# and skipping the write keeps the check-in hot path to one short transaction.
LAST_SEEN_RESOLUTION = timedelta(minutes=30)
# Failed invite codes allowed in one window: per chat account, and per source (a group chat, or
# a channel's private chats together: a script with many accounts still fills one source).
MAX_BIND_FAILURES = 5
MAX_SOURCE_BIND_FAILURES = 50
# All private chats of a channel are one source: a brake on scripts with many accounts, set high
# enough that a few guessers cannot hold everyone's binding.
MAX_PRIVATE_BIND_FAILURES = 200
PRIVATE_SOURCE = "private"
BIND_WINDOW = timedelta(minutes=15)
BIND_FAILURE_LOOKUP = sa_select(
    col(BindFailure.scope), col(BindFailure.count), col(BindFailure.since)
).where(col(BindFailure.scope).in_(bindparam("scopes", expanding=True)))
# One statement: a failure in an expired window starts a new one.
_EXPIRED = col(BindFailure.since) < bindparam("window_start")
BIND_FAILURE_COUNT = (
    update(BindFailure)
    .where(col(BindFailure.scope) == bindparam("failure_scope"))
    .values(
        count=case((_EXPIRED, 1), else_=col(BindFailure.count) + 1),
        since=case((_EXPIRED, bindparam("now")), else_=col(BindFailure.since)),
        last_at=bindparam("now"),
    )
    .execution_options(synchronize_session=False)
)


def _roles_of(member_id: Any, org_id: Any) -> Any:
    """Selects a member's role names in an organization, comma-separated, in one value."""
    return select(func.aggregate_strings(col(Role.role), ",")).where(
        Role.member_id == member_id, Role.organization_id == org_id
    )


# Built once: the lookup runs for every inbound message, and building it costs more than running it.
# Only the organization is loaded as an object (later steps find it in the identity map); the
# account and member come as plain columns, which cost a fraction of an ORM object each.
ACCOUNT_LOOKUP = (
    sa_select(
        Organization,
        col(ChatAccount.id).label("account_id"),
        col(ChatAccount.last_seen_at).label("last_seen_at"),
        col(Member.id).label("member_id"),
        col(Member.name).label("name"),
        col(Member.status).label("status"),
        col(Member.locale).label("locale"),
        col(Member.muted).label("muted"),
        _roles_of(col(Member.id), col(Member.organization_id)).scalar_subquery().label("roles"),
    )
    .join(Member, col(Member.id) == ChatAccount.member_id)
    .join(Organization, col(Organization.id) == Member.organization_id)
    .where(
        col(ChatAccount.channel) == bindparam("channel"),
        col(ChatAccount.external_id) == bindparam("external_id"),
    )
)


SEEN_UPDATE = (
    update(ChatAccount)
    .where(col(ChatAccount.id) == bindparam("account_id"))
    .values(last_seen_at=bindparam("seen"))
    .execution_options(synchronize_session=False)
)


def role_set(names: str) -> frozenset[RoleKind]:
    """Reads comma-separated role names."""
    return frozenset(RoleKind(role) for role in names.split(",") if role)


def new_invite_code() -> str:
    """Returns a fresh unguessable invite code (no 0/O/1/I to misread)."""
    return "".join(secrets.choice(INVITE_ALPHABET) for _ in range(INVITE_LENGTH))


class Members:
    """Finds members behind chat accounts, binds accounts with invites, manages roles."""

    def __init__(self, session: Session, now: datetime) -> None:
        self.session = session
        self.now = now

    def view(
        self, member: Member, org: Organization | None = None, roles: str | None = None
    ) -> MemberView:
        """Builds the view of a member with their roles in their own organization."""
        assert member.id is not None
        org = org or self.session.get_one(Organization, member.organization_id)
        if roles is None:
            roles = self.session.exec(_roles_of(member.id, member.organization_id)).one() or ""
        return MemberView(
            id=member.id,
            name=member.name,
            org=org_view(org),
            status=member.status,
            locale=member.locale,
            roles=role_set(roles),
            muted=member.muted,
        )

    def for_account(
        self, *, channel: Channel, external_id: str, seen: bool = True
    ) -> MemberView | None:
        """Returns the member bound to a chat account and, if `seen`, notes that they wrote."""
        found = self.session.execute(
            ACCOUNT_LOOKUP, {"channel": channel.value, "external_id": external_id}
        ).first()
        if found is None or found.status is MemberStatus.DEPARTED:
            return None
        org = found[0]
        # Later steps of this unit of work look the organization up again: keep it in the map.
        pin(self.session, org)
        last = found.last_seen_at
        if seen and (last is None or self.now - last > LAST_SEEN_RESOLUTION):
            run(self.session, SEEN_UPDATE, {"account_id": found.account_id, "seen": self.now})
        return MemberView(
            id=found.member_id,
            name=found.name,
            org=org_view(org),
            status=found.status,
            locale=found.locale,
            roles=role_set(found.roles or ""),
            muted=found.muted,
        )

    def find(self, member_id: int) -> MemberView | None:
        """Returns a member by id, or None when there is none."""
        row = self.session.get(Member, member_id)
        return self.view(row) if row is not None else None

    def get(self, member_id: int) -> MemberView:
        """Returns a member by id."""
        return self.view(self.session.get_one(Member, member_id))

    def of_org(self, org_id: int) -> list[MemberView]:
        """Lists the current members of an organization, by name."""
        # The roles come with the members, one statement for the list (not one per member).
        rows = self.session.exec(
            select(Member, _roles_of(col(Member.id), col(Member.organization_id)).scalar_subquery())
            .where(Member.organization_id == org_id, Member.status != MemberStatus.DEPARTED)
            .order_by(col(Member.name), col(Member.id))
        ).all()
        org = self.session.get_one(Organization, org_id)
        return [self.view(member, org, roles or "") for member, roles in rows]

    def set_locale(self, member_id: int, locale: str) -> None:
        """Stores a member's language choice."""
        member = self.session.get_one(Member, member_id)
        member.locale = locale
        self.session.add(member)

    def give_name(self, member_id: int, name: str) -> bool:
        """Names a member who has no name yet; False when the member already has one."""
        named = self.session.execute(
            update(Member)
            .where(col(Member.id) == member_id, col(Member.name) == "")
            .values(name=clean_line(name, limit=100))
            .execution_options(synchronize_session=False)
        )
        return bool(named.rowcount)  # type: ignore[attr-defined]

    def create_invite(
        self,
        *,
        org_id: int,
        role: RoleKind,
        name: str = "",
        member_id: int | None = None,
        created_by: int | None = None,
        ttl: timedelta,
    ) -> Invite:
        """Creates a single-use invite that expires after `ttl`."""
        invite = Invite(
            code=new_invite_code(),
            organization_id=org_id,
            role=role,
            name=clean_line(name, limit=100),
            member_id=member_id,
            created_by=created_by,
            created_at=self.now,
            expires_at=self.now + ttl,
        )
        self.session.add(invite)
        self.session.flush()
        return invite

    def bind(
        self,
        *,
        code: str,
        channel: Channel,
        external_id: str,
        display_name: str,
        source: str = PRIVATE_SOURCE,
    ) -> MemberView:
        """Redeems an invite for a chat account; raises ServiceError naming why it cannot."""
        code = code.strip().upper()
        if self.session.exec(
            select(ChatAccount.id).where(
                ChatAccount.channel == channel, ChatAccount.external_id == external_id
            )
        ).first():
            raise ServiceError("already_bound")
        scopes = {
            f"account:{channel.value}:{external_id}"[:200]: MAX_BIND_FAILURES,
            f"source:{channel.value}:{source}"[:200]: (
                MAX_PRIVATE_BIND_FAILURES if source == PRIVATE_SOURCE else MAX_SOURCE_BIND_FAILURES
            ),
        }
        self._refuse_if_guessing(scopes)
        # The claim is one conditional UPDATE, so two people racing for one code cannot both win.
        claimed = self.session.execute(
            update(Invite)
            .where(
                col(Invite.code) == code,
                col(Invite.used_at).is_(None),
                col(Invite.expires_at) > self.now,
            )
            .values(used_at=self.now)
            .returning(col(Invite.id))
        ).scalar_one_or_none()
        if claimed is None:
            invite = self.session.exec(select(Invite).where(Invite.code == code)).first()
            # Counted in the database, kept through the refusal: guessing must cost something.
            self._count_failure(scopes)
            if invite is None:
                raise ServiceError("invite_unknown", keep_writes=True)
            if invite.used_at is not None:
                raise ServiceError("invite_used", keep_writes=True)
            raise ServiceError("invite_expired", keep_writes=True)
        invite = self.session.get_one(Invite, claimed)
        member = self._member_for(invite)
        assert member.id is not None
        account = ChatAccount(
            channel=channel,
            external_id=external_id,
            member_id=member.id,
            created_at=self.now,
            last_seen_at=self.now,
        )
        try:
            with self.session.begin_nested():
                self.session.add(account)
                self.session.flush()
        except IntegrityError:
            raise ServiceError("already_bound") from None
        invite.used_by = account.id
        self.session.add(invite)
        return self.view(member)

    def _refuse_if_guessing(self, scopes: dict[str, int]) -> None:
        """Refuses a bind while its account or source has too many failures in the window."""
        rows = run(self.session, BIND_FAILURE_LOOKUP, {"scopes": list(scopes)}).all()
        for row in rows:
            failure = row._mapping
            if failure["count"] < scopes[failure["scope"]]:
                continue
            wait = failure["since"] + BIND_WINDOW - self.now
            if wait > timedelta(0):
                raise ServiceError(
                    "too_many_binds", minutes=max(1, round(wait.total_seconds() / 60))
                )

    def _count_failure(self, scopes: dict[str, int]) -> None:
        """Adds one failed code to each scope's count, starting a new window when one is over."""
        for scope in scopes:
            values = {"scope": scope, "count": 1, "since": self.now, "last_at": self.now}
            if insert_ignore(self.session, BindFailure, values=values, conflict=("scope",)):
                continue
            run(
                self.session,
                BIND_FAILURE_COUNT,
                {"failure_scope": scope, "now": self.now, "window_start": self.now - BIND_WINDOW},
            )

    def _member_for(self, invite: Invite) -> Member:
        """Returns the invite's member, creating one with the invite's role if it names none."""
        if invite.member_id is not None:
            member = self.session.get_one(Member, invite.member_id)
        else:
            # A platform's display name is often an account id ("anon", an openid): a member
            # invited without a name is asked for it on binding, and has none until then.
            name = invite.name
            member = Member(
                name=name,
                organization_id=invite.organization_id,
                status=MemberStatus.FULL,
                created_at=self.now,
            )
            self.session.add(member)
            self.session.flush()
        assert member.id is not None
        self.grant(member_id=member.id, org_id=invite.organization_id, role=invite.role)
        if invite.role is not RoleKind.MEMBER:
            self.grant(member_id=member.id, org_id=invite.organization_id, role=RoleKind.MEMBER)
        return member

    def grant(self, *, member_id: int, org_id: int, role: RoleKind) -> None:
        """Gives a member a role in an organization (no-op when they have it)."""
        grant_role(self.session, org_id=org_id, member_id=member_id, role=role, on=self.now.date())

    def holders(self, *, org_id: int, roles: frozenset[RoleKind]) -> list[MemberView]:
        """Lists the members holding any of `roles` in an organization."""
        rows = self.session.exec(
            select(Member)
            .join(Role, col(Role.member_id) == Member.id)
            .where(
                Role.organization_id == org_id,
                col(Role.role).in_(list(roles)),
                Member.status != MemberStatus.DEPARTED,
            )
            .distinct()
            .order_by(col(Member.id))
        ).all()
        return [self.view(row) for row in rows]


def grant_role(session: Session, *, org_id: int, member_id: int, role: RoleKind, on: date) -> bool:
    """Gives a member a role (no-op when they hold it) and, for a leading role, starts its term.

    Returns whether the role is new. The term is the role history: who held it on any day.
    """
    added = insert_ignore(
        session,
        Role,
        values={"member_id": member_id, "organization_id": org_id, "role": role.value},
        conflict=("organization_id", "member_id", "role"),
    )
    if added is None:
        return False
    if role is not RoleKind.MEMBER:
        session.add(RoleTerm(organization_id=org_id, member_id=member_id, role=role, started_on=on))
        session.flush()
    return True


def role_holders_on(
    session: Session, *, org_id: int, role: RoleKind, days: Collection[date]
) -> dict[date, int]:
    """Returns who held a role of an organization on each day: the latest term begun by then.

    A new holder's term supersedes the one before it, ended or not.
    """
    terms = session.exec(
        select(RoleTerm)
        .where(RoleTerm.organization_id == org_id, RoleTerm.role == role)
        .order_by(col(RoleTerm.started_on), col(RoleTerm.id))
    ).all()
    found: dict[date, int] = {}
    for day in days:
        current = [
            term
            for term in terms
            if term.started_on <= day and (term.ended_on is None or day <= term.ended_on)
        ]
        if current:
            found[day] = current[-1].member_id
    return found
