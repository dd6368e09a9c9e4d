"""Personal data: export everything stored about a member, erase it, and purge departed members."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import Enum
from typing import Any

from sqlalchemy import RowMapping, Table, delete, or_, tuple_, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, SQLModel, col, select

from bot.core.domain import MemberStatus
from bot.services.audit_trail import record_change
from bot.services.errors import ServiceError
from storage.channels import options_of_accounts
from storage.console import ConsoleLink, ConsoleSession, PendingImport
from storage.models import (
    Attendance,
    CalendarFeed,
    ChatAccount,
    CheckinFailure,
    Conversation,
    DownloadLink,
    Invite,
    Member,
    OfferedOption,
    Organization,
    Photo,
    Role,
    RoleTerm,
)
from storage.reminders import MobileMovement, OutboxMessage, OutboxStatus

EXPORT_FORMAT = "gongjian-member-export/1"
PLACEHOLDER_PREFIX = "已删除成员#"
# Hashes of access tokens are credentials, not information about the person.
SECRET_COLUMNS = frozenset({"token_hash"})
UNSENT = (OutboxStatus.PENDING, OutboxStatus.SENDING, OutboxStatus.FAILED)
# Rows a member made about someone else (an invite naming the invitee, another member's
# whereabouts): that person's data, not this member's, so an export leaves them out.
OTHERS_DATA = frozenset({("invite", "created_by"), ("mobile_movement", "marked_by")})
# Columns of a member's own rows that hold other people's data: the district file they uploaded.
OTHERS_COLUMNS = frozenset({("pending_import", "data")})

# Every table that refers to a member, and what erasing a member does to its rows.
ERASURE_POLICY: dict[str, str] = {
    "member": "anonymized: name replaced, phone, language and flags cleared, marked departed",
    "role": "deleted",
    "role_term": "deleted",
    "chataccount": "deleted",
    "invite": "deleted when it was for the member; kept (by id) when the member made it",
    "attendance": "kept for statistics; the leave reason is cleared",
    "checkin_failure": "deleted",
    "activity": "kept: the ledger entry belongs to the organization (reporter by id only)",
    "calendar_feed": "deleted",
    "download_link": "deleted",
    "console_link": "deleted",
    "console_session": "deleted (the member is signed out of the web console)",
    "pending_import": "deleted (a district file the member checked and had not confirmed)",
    "outbox": "unsent pushes deleted; sent ones kept for delivery statistics with the text cleared",
    "mobile_movement": "deleted when about the member; kept (by id) when the member recorded it",
    "filing": "kept (filed_by by id only)",
    "rotaoverride": "kept (created_by by id only)",
    "audit_log": "kept (actor by id only)",
    "meeting_minutes": "kept: the minutes belong to the meeting (recorded_by by id only)",
    "photo": "deleted when not attached; kept with its ledger entry (member by id only)",
}


def placeholder_name(member_id: int) -> str:
    """Returns the name an erased member keeps, e.g. 已删除成员#12."""
    return f"{PLACEHOLDER_PREFIX}{member_id}"


def member_references() -> dict[str, list[str]]:
    """Lists, by table name, the columns of every table that point at a member row."""
    references: dict[str, list[str]] = {}
    for table in SQLModel.metadata.sorted_tables:
        columns = [
            column.name
            for column in table.columns
            if any(
                fk.column.table.name == "member" and fk.column.name == "id"
                for fk in column.foreign_keys
            )
        ]
        if columns:
            references[table.name] = columns
    return references


def _plain(value: object) -> object:
    """Turns a stored value into JSON: ISO dates and times, enum values."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value


def _row(mapping: RowMapping) -> dict[str, object]:
    """Turns one stored row into JSON, leaving out credentials."""
    return {key: _plain(value) for key, value in mapping.items() if key not in SECRET_COLUMNS}


def _rows(session: Session, table: Table, condition: Any) -> list[dict[str, object]]:
    """Selects rows of any table as JSON-ready dictionaries, by id."""
    order = [table.c.id] if "id" in table.c else list(table.primary_key.columns)
    shown = [column for column in table.c if (table.name, column.name) not in OTHERS_COLUMNS]
    result = session.execute(sa_select(*shown).where(condition).order_by(*order))
    return [_row(mapping) for mapping in result.mappings()]


def _accounts(session: Session, member_id: int) -> list[ChatAccount]:
    """Lists a member's chat accounts."""
    return list(session.exec(select(ChatAccount).where(ChatAccount.member_id == member_id)).all())


def _options_filter(accounts: list[ChatAccount]) -> Any:
    """Matches the numbered options offered to a member's chat accounts."""
    return options_of_accounts([(account.channel, account.external_id) for account in accounts])


def _conversation_filter(accounts: list[ChatAccount]) -> Any:
    """Matches the conversation state of a member's chat accounts, in any chat."""
    if not accounts:
        return col(Conversation.id).is_(None)
    return tuple_(col(Conversation.channel), col(Conversation.user_id)).in_(
        [(account.channel, account.external_id) for account in accounts]
    )


def _member(session: Session, member_id: int) -> Member:
    """Returns a member row or refuses with `member_unknown`."""
    member = session.get(Member, member_id)
    if member is None:
        raise ServiceError("member_unknown", member_id=member_id)
    return member


def export_member(session: Session, member_id: int, *, now: datetime) -> dict[str, object]:
    """Collects everything stored about a member as JSON-ready data, and logs the export."""
    member = _member(session, member_id)
    org = session.get_one(Organization, member.organization_id)
    tables: dict[str, list[dict[str, object]]] = {}
    metadata = SQLModel.metadata.tables
    accounts = _accounts(session, member_id)
    for name, columns in member_references().items():
        table = metadata[name]
        mine = [column for column in columns if (name, column) not in OTHERS_DATA]
        condition = or_(*(table.c[column] == member_id for column in mine))
        if name == "audit_log":
            condition = or_(condition, table.c.subject == f"member:{member_id}")
        if name == "invite":
            # An invite that created a new member names no member; its chat account tells.
            condition = or_(condition, table.c.used_by.in_([a.id for a in accounts]))
        tables[name] = _rows(session, table, condition)
    tables["member"] = _rows(session, metadata["member"], metadata["member"].c.id == member_id)
    tables["conversation"] = _rows(
        session, metadata["conversation"], _conversation_filter(accounts)
    )
    tables["offered_option"] = _rows(session, metadata["offered_option"], _options_filter(accounts))
    record_change(
        session, now=now, actor_id=None, action="member.export", subject=f"member:{member_id}"
    )
    return {
        "format": EXPORT_FORMAT,
        "exported_at": now.isoformat(),
        "member_id": member_id,
        "organization": {"id": org.id, "code": org.code, "name": org.name},
        "tables": dict(sorted(tables.items())),
    }


@dataclass(slots=True)
class Erasure:
    """What erasing one member removed, by table."""

    member_id: int
    deleted: dict[str, int] = field(default_factory=dict)
    cleared: dict[str, int] = field(default_factory=dict)


def _count(result: Any) -> int:
    """Returns how many rows a DELETE or UPDATE touched."""
    return int(result.rowcount or 0)


def erase_member(
    session: Session, member_id: int, *, now: datetime, action: str = "member.delete"
) -> Erasure:
    """Removes a member's personal data, keeping anonymous attendance and ledger statistics."""
    member = _member(session, member_id)
    erasure = Erasure(member_id)
    accounts = _accounts(session, member_id)
    account_ids = [account.id for account in accounts]

    def deleted(name: str, statement: Any) -> None:
        erasure.deleted[name] = erasure.deleted.get(name, 0) + _count(session.execute(statement))

    def cleared(name: str, statement: Any) -> None:
        erasure.cleared[name] = _count(session.execute(statement))

    deleted("conversation", delete(Conversation).where(_conversation_filter(accounts)))
    deleted("offered_option", delete(OfferedOption).where(_options_filter(accounts)))
    # Invites point at chat accounts (used_by), so they go before the accounts.
    deleted(
        "invite",
        delete(Invite).where(
            or_(col(Invite.member_id) == member_id, col(Invite.used_by).in_(account_ids))
        ),
    )
    deleted("chataccount", delete(ChatAccount).where(col(ChatAccount.member_id) == member_id))
    deleted("calendar_feed", delete(CalendarFeed).where(col(CalendarFeed.member_id) == member_id))
    deleted("download_link", delete(DownloadLink).where(col(DownloadLink.member_id) == member_id))
    deleted("console_link", delete(ConsoleLink).where(col(ConsoleLink.member_id) == member_id))
    deleted(
        "console_session", delete(ConsoleSession).where(col(ConsoleSession.member_id) == member_id)
    )
    deleted(
        "pending_import", delete(PendingImport).where(col(PendingImport.member_id) == member_id)
    )
    deleted(
        "checkin_failure", delete(CheckinFailure).where(col(CheckinFailure.member_id) == member_id)
    )
    deleted(
        "mobile_movement", delete(MobileMovement).where(col(MobileMovement.member_id) == member_id)
    )
    deleted(
        "outbox",
        delete(OutboxMessage).where(
            col(OutboxMessage.member_id) == member_id, col(OutboxMessage.status).in_(UNSENT)
        ),
    )
    deleted("role_term", delete(RoleTerm).where(col(RoleTerm.member_id) == member_id))
    deleted("role", delete(Role).where(col(Role.member_id) == member_id))
    deleted(
        "photo",
        delete(Photo).where(col(Photo.member_id) == member_id, col(Photo.activity_id).is_(None)),
    )
    cleared(
        "outbox",
        update(OutboxMessage)
        .where(col(OutboxMessage.member_id) == member_id, col(OutboxMessage.text) != "")
        .values(text=""),
    )
    cleared(
        "attendance",
        update(Attendance)
        .where(col(Attendance.member_id) == member_id, col(Attendance.reason) != "")
        .values(reason=""),
    )
    member.name = placeholder_name(member_id)
    member.phone = None
    member.locale = None
    member.mobile = False
    member.muted = False
    member.status = MemberStatus.DEPARTED
    member.departed_at = member.departed_at or now
    session.add(member)
    record_change(
        session,
        now=now,
        actor_id=None,
        action=action,
        subject=f"member:{member_id}",
        deleted=erasure.deleted,
        cleared=erasure.cleared,
    )
    session.flush()
    return erasure


def depart_member(session: Session, member_id: int, *, now: datetime) -> bool:
    """Marks a member departed from now; False when they already were."""
    _member(session, member_id)
    changed = session.execute(
        update(Member)
        .where(col(Member.id) == member_id, col(Member.status) != MemberStatus.DEPARTED)
        .values(status=MemberStatus.DEPARTED, departed_at=now)
        .returning(col(Member.id))
    ).scalar_one_or_none()
    if changed is None:
        return False
    record_change(
        session, now=now, actor_id=None, action="member.depart", subject=f"member:{member_id}"
    )
    return True


def purge_departed(session: Session, now: datetime, retention: timedelta) -> list[int]:
    """Erases the personal data of members departed longer than `retention`; returns their ids."""
    due = session.exec(
        select(Member.id)
        .where(
            Member.status == MemberStatus.DEPARTED,
            col(Member.departed_at) <= now - retention,
            ~col(Member.name).startswith(PLACEHOLDER_PREFIX, autoescape=True),
        )
        .order_by(col(Member.id))
    ).all()
    purged: list[int] = []
    for member_id in due:
        assert member_id is not None
        erase_member(session, member_id, now=now, action="member.purge")
        purged.append(member_id)
    return purged
