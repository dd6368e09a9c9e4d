"""The quarterly ledger (台账): what it shows, read at one moment, and its export (an .xlsx workbook)."""

from __future__ import annotations

import io
import unicodedata
import zipfile
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_
from sqlalchemy import select as select_columns
from sqlmodel import Session, col, select

from bot.calendar.holidays import HolidayCalendar
from bot.calendar.quarters import Quarter
from bot.core.domain import ActivityKind, MeetingKind
from bot.core.i18n import N_, Translator
from bot.core.records import OrgView
from bot.core.reply import Document
from bot.services.compliance import ComplianceReport, compliance_report
from bot.services.minutes import MinutesView, minutes_of
from bot.services.obligations.facts import ALLIANCE_KINDS
from bot.services.organizations import OrgTitle, org_title
from bot.services.photos import PhotoStore, PhotoView, photos_of
from bot.services.stats import AttendanceReport
from storage.models import Activity, ActivityPartner, Member, Organization
from storage.reminders import FilingKind, FilingMethod, org_scope, record_filing

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ZIP_MIME = "application/zip"
FORBIDDEN_IN_NAMES = frozenset('/\\:*?"<>|')
MAX_NAME = 60
FILE_PREFIX = N_("Ledger")
PHOTO_FOLDER = N_("Photos")
# The ledger entry a meeting's record may have, for its content.
AS_ACTIVITY: dict[MeetingKind, ActivityKind] = {
    MeetingKind.THEME_DAY: ActivityKind.THEME_DAY,
    MeetingKind.JOINT_MEETING: ActivityKind.JOINT_MEETING,
    MeetingKind.VISIT: ActivityKind.VISIT,
    MeetingKind.LECTURE: ActivityKind.LECTURE,
}


@dataclass(frozen=True, slots=True)
class LedgerActivity:
    """One ledger entry as the workbook lists it."""

    id: int
    held_on: date
    kind: ActivityKind
    org: str
    partners: tuple[str, ...]
    participants: int
    title: str
    summary: str
    reporter: str


@dataclass(frozen=True, slots=True)
class LedgerData:
    """Everything one organization's quarterly ledger shows, read at one moment."""

    org: OrgView
    title: OrgTitle
    quarter: Quarter
    made_at: datetime
    activities: tuple[LedgerActivity, ...]
    compliance: ComplianceReport
    org_names: dict[int, str]
    minutes: dict[int, MinutesView]
    photos: dict[int, list[PhotoView]]
    filled_by: str = ""

    def photo_names(self, t: Translator) -> dict[int, str]:
        """Names each photo as the export's zip holds it: 照片/2026-10-12-第7条-1.jpg."""
        folder = safe_filename(t(PHOTO_FOLDER))
        names: dict[int, str] = {}
        for entry in self.activities:
            for number, photo in enumerate(self.photos.get(entry.id, ()), 1):
                extension = photo.path.rsplit(".", 1)[-1]
                name = t(
                    "{date}-entry {entry}-{number}",
                    date=entry.held_on.isoformat(),
                    entry=entry.id,
                    number=number,
                )
                names[photo.id] = f"{folder}/{safe_filename(name)}.{extension}"
        return names

    @property
    def attendance(self) -> AttendanceReport:
        """The quarter's meetings and members with their attendance."""
        return self.compliance.attendance


def ledger_data(
    session: Session,
    *,
    org_id: int,
    quarter: Quarter,
    now: datetime,
    holidays: HolidayCalendar,
    tz: ZoneInfo,
    filled_by: str = "",
) -> LedgerData:
    """Reads an organization's quarter: its ledger entries, attendance and compliance."""
    report = compliance_report(
        session, org_id=org_id, quarter=quarter, now=now, holidays=holidays, tz=tz
    )
    last = min(quarter.last_day, report.today)
    hosts = {meeting.org_id for meeting in report.attendance.meetings}
    entries = activities_of(session, org_id=org_id, first_day=quarter.first_day, last_day=last)
    return LedgerData(
        org=report.org,
        title=org_title(session, org_id),
        quarter=quarter,
        made_at=now.astimezone(tz),
        activities=entries,
        compliance=report,
        org_names=org_names(session, hosts),
        minutes=minutes_of(session, [meeting.meeting_id for meeting in report.attendance.meetings]),
        photos=photos_of(session, [entry.id for entry in entries]),
        filled_by=filled_by,
    )


def org_names(session: Session, org_ids: set[int]) -> dict[int, str]:
    """Reads the names of some organizations by id."""
    return {
        org_id: name
        for org_id, name in session.execute(
            select_columns(col(Organization.id), col(Organization.name)).where(
                col(Organization.id).in_(org_ids)
            )
        )
    }


def activities_of(
    session: Session, *, org_id: int, first_day: date, last_day: date
) -> tuple[LedgerActivity, ...]:
    """Lists the entries an organization reported or took part in between two dates."""
    as_partner = select(ActivityPartner.activity_id).where(
        ActivityPartner.organization_id == org_id
    )
    where = or_(col(Activity.organization_id) == org_id, col(Activity.id).in_(as_partner))
    return _activities(session, where, first_day, last_day)


def activities_of_group(
    session: Session,
    *,
    alliance_id: int | None = None,
    pairing_id: int | None = None,
    first_day: date,
    last_day: date,
) -> tuple[LedgerActivity, ...]:
    """Lists the entries recorded for an alliance or a pairing between two dates."""
    # An entry naming both groups is listed where it belongs (see `home_of`), once.
    alliance_kinds = col(Activity.kind).in_(sorted(ALLIANCE_KINDS))
    if alliance_id is not None:
        where = (col(Activity.alliance_id) == alliance_id) & (
            col(Activity.pairing_id).is_(None) | alliance_kinds
        )
    else:
        where = (col(Activity.pairing_id) == pairing_id) & (
            col(Activity.alliance_id).is_(None) | ~alliance_kinds
        )
    return _activities(session, where, first_day, last_day)


def _activities(
    session: Session, where: Any, first_day: date, last_day: date
) -> tuple[LedgerActivity, ...]:
    """Reads entries with their partners, organizations and reporters in four queries."""
    rows = session.exec(
        select(Activity)
        .where(where, Activity.held_on >= first_day, Activity.held_on <= last_day)
        .order_by(col(Activity.held_on), col(Activity.id))
    ).all()
    ids = [row.id for row in rows]
    partners: dict[int, list[str]] = defaultdict(list)
    for activity_id, name in session.execute(
        select_columns(col(ActivityPartner.activity_id), col(Organization.name))
        .join(Organization, col(Organization.id) == ActivityPartner.organization_id)
        .where(col(ActivityPartner.activity_id).in_(ids))
        .order_by(col(Organization.code))
    ):
        partners[activity_id].append(name)
    names = org_names(session, {row.organization_id for row in rows})
    reporters: dict[int, str] = {
        member_id: name
        for member_id, name in session.execute(
            select_columns(col(Member.id), col(Member.name)).where(
                col(Member.id).in_({row.reporter_id for row in rows if row.reporter_id})
            )
        )
    }
    return tuple(
        LedgerActivity(
            id=row.id or 0,
            held_on=row.held_on,
            kind=row.kind,
            org=names.get(row.organization_id, ""),
            partners=tuple(partners.get(row.id or 0, ())),
            participants=row.participants,
            title=row.title,
            summary=row.summary,
            reporter=reporters.get(row.reporter_id or 0, ""),
        )
        for row in rows
    )


@dataclass(frozen=True, slots=True)
class LedgerExport:
    """A made workbook, what it shows, and whether making it filed the quarter's ledger."""

    document: Document
    data: LedgerData
    newly_filed: bool

    @property
    def preview(self) -> bool:
        """Tells whether it was made before the ledger window, so it filed nothing."""
        return self.data.compliance.today < self.data.compliance.ledger_opens


def export_ledger(
    session: Session,
    *,
    org_id: int,
    quarter: Quarter,
    now: datetime,
    holidays: HolidayCalendar,
    tz: ZoneInfo,
    t: Translator,
    actor_id: int | None,
    filled_by: str = "",
    photos: PhotoStore | None = None,
) -> LedgerExport:
    """Makes the quarter's ledger workbook (zipped with its photos, if any); files it when due."""
    data = ledger_data(
        session,
        org_id=org_id,
        quarter=quarter,
        now=now,
        holidays=holidays,
        tz=tz,
        filled_by=filled_by,
    )
    document = Document(ledger_filename(t, data), build_workbook(t, data), XLSX_MIME)
    if photos is not None and any(data.photos.values()):
        document = with_photos(t, document, data, photos)
    export = LedgerExport(document, data, newly_filed=False)
    if export.preview:
        # A look at the ledger mid-quarter is no submission: it must not silence the nudges.
        return export
    # The reminder rules count an exported ledger as filed ("Export it, or mark it submitted").
    newly_filed = record_filing(
        session=session,
        kind=FilingKind.LEDGER,
        scope=org_scope(org_id),
        period=str(quarter),
        method=FilingMethod.EXPORTED,
        at=now,
        by=actor_id,
    )
    return LedgerExport(document, data, newly_filed)


def with_photos(t: Translator, workbook: Document, data: LedgerData, store: PhotoStore) -> Document:
    """Packs the workbook and the quarter's photos (named as the workbook lists them) in a zip."""
    names = data.photo_names(t)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(workbook.filename, workbook.content)
        for entry in data.activities:
            for photo in data.photos.get(entry.id, ()):
                path = store.file(photo)
                if path.is_file():
                    # Photos are compressed already: stored as they are.
                    archive.write(path, names[photo.id], compress_type=zipfile.ZIP_STORED)
    filename = workbook.filename.removesuffix(".xlsx") + ".zip"
    return Document(filename, buffer.getvalue(), ZIP_MIME)


def ledger_filename(t: Translator, data: LedgerData) -> str:
    """Names the workbook file: 台账-<unit>-2026Q4.xlsx (characters no file system refuses)."""
    prefix = safe_filename(t(FILE_PREFIX))
    return f"{prefix}-{safe_filename(data.title.name)}-{data.quarter}.xlsx"


def safe_filename(text: str) -> str:
    """Keeps what every file system and channel accepts in a name: no separators or controls."""
    kept = "".join(
        "_" if char in FORBIDDEN_IN_NAMES or unicodedata.category(char)[0] in "CZ" else char
        for char in text.strip()
    ).strip("._")
    return kept[:MAX_NAME] or "_"


def build_workbook(t: Translator, data: LedgerData) -> bytes:
    """Writes the ledger workbook with headers in the translator's language; returns its bytes."""
    # Loaded on the first ledger made: openpyxl would cost every process ~10 MiB from start-up.
    from bot.services.ledger_workbook import write_workbook  # noqa: PLC0415

    return write_workbook(t, data)
