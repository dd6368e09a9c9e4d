"""A whole district from one workbook: sheets 组织与党员, 结对 and 联盟, imported all or nothing.

The 组织与党员 sheet is the member import's (`bot.services.importer`); the pairing and alliance
rows go through the set-up use cases (`bot.services.structure`), so every door shares one
validation. A dry run, or any bad row on any sheet, leaves the database as it was.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path, PurePath
from typing import IO

from sqlalchemy import union_all
from sqlmodel import Session, col, select

from bot.core.domain import ConvenerRule, DutyPeriod, PairingForm
from bot.core.i18n import N_
from bot.services.errors import ServiceError
from bot.services.importer import (
    COLUMN_ORDER,
    FILE_KIND,
    ImportFileError,
    ImportReport,
    OrgLifeRetimer,
    Progress,
    RowError,
    Table,
    cell_text,
    import_members,
    open_xlsx,
    parse_table,
    read_table,
    table_of,
)
from bot.services.structure import (
    CONVENER_WORDS,
    FORM_WORDS,
    PERIOD_WORDS,
    AllianceSpec,
    PairingSpec,
    alliance_spec,
    check_alliance,
    check_pairing,
    merge_orders,
    pairing_spec,
    save_alliance,
    save_pairing,
    word,
)
from storage.models import Alliance, AllianceUnit, Organization, Pairing, PairingOrg

MEMBER_SHEET = "组织与党员"
PAIRING_SHEET = "结对"
ALLIANCE_SHEET = "联盟"
NOTES_SHEET = "说明"
LIST_SPLIT = re.compile(r"[,，、;；\s]+")

# Each sheet's columns: canonical name -> (the template's header, other headers that mean it).
PAIRING_COLUMNS: dict[str, tuple[str, ...]] = {
    "code": ("结对代码", "pairing_code", "code"),
    "name": ("结对名称", "pairing_name", "name"),
    "form": ("结对形式", "形式", "form"),
    "lead": ("牵头单位代码", "牵头单位", "lead"),
    "partners": ("共建单位代码", "共建单位", "partners"),
    "start": ("协议开始日期", "协议开始", "start"),
    "end": ("协议结束日期", "协议结束", "end"),
    "visits": ("每年走访次数", "走访次数", "visits"),
    "goals": ("共建目标", "goals"),
}
ALLIANCE_COLUMNS: dict[str, tuple[str, ...]] = {
    "code": ("联盟代码", "alliance_code", "code"),
    "name": ("联盟名称", "alliance_name", "name"),
    "presidents": ("会长单位代码", "会长单位", "presidents"),
    "members": ("会员单位代码", "会员单位", "members"),
    "start": ("轮值开始日期", "轮值开始", "start"),
    "term": ("执行会长单位任期（月）", "执行会长任期", "term_months"),
    "period": ("主题党日轮值周期", "轮值周期", "duty_period"),
    "convener": ("联席会议召集人", "召集人", "convener"),
    "theme_order": ("主题党日轮值顺序", "轮值顺序", "theme_order"),
}
REQUIRED_PAIRING = ("code", "name", "lead", "partners", "start")
REQUIRED_ALLIANCE = ("code", "name", "presidents", "start")
# Reasons for cells the use cases never see (the rest are the use cases' refusal codes).
R_REQUIRED = "required"
R_DATE = "bad_date"
R_NUMBER = "bad_number"
R_ORG_UNKNOWN = "org_unknown_code"
R_DUPLICATE = "duplicate_code"
R_OUTSIDE = "org_not_in_scope"
R_GROUP_OUTSIDE = "group_not_in_scope"
# The member sheet's reasons are sentences (see `bot.services.importer`).
R_MEMBER_OUTSIDE = N_("No organization under you has the code {value}.")
R_NEW_OUTSIDE = N_(
    "{value} is a new organization: give it a parent code among the organizations under you"
)
# Deeper than any real tree; stops a loop of new organizations naming each other as parents.
MAX_DEPTH = 16


@dataclass(frozen=True, slots=True)
class GroupRow:
    """One row of the 结对 or 联盟 sheet, by canonical column."""

    number: int
    cells: dict[str, str]


@dataclass(slots=True)
class Workbook:
    """The sheets of a district file that were found."""

    members: Table | None = None
    pairings: list[GroupRow] = field(default_factory=list)
    alliances: list[GroupRow] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class GroupError:
    """A bad cell of the 结对 or 联盟 sheet: a refusal code (see `handlers.errors`) and values."""

    sheet: str
    row: int
    column: str
    code: str
    values: dict[str, object] = field(default_factory=dict)


@dataclass(slots=True)
class DistrictReport:
    """What a district import found and did (or would do)."""

    members: ImportReport
    group_errors: list[GroupError] = field(default_factory=list)
    pairings_created: int = 0
    pairings_updated: int = 0
    alliances_created: int = 0
    alliances_updated: int = 0

    @property
    def ok(self) -> bool:
        """Tells whether every row of every sheet was valid."""
        return self.members.ok and not self.group_errors


def _key(text: str) -> str:
    """Normalizes a header: no case, spaces or full-width brackets."""
    cleaned = text.strip().lower().replace("（", "(").replace("）", ")")
    return re.sub(r"[\s\u3000]+", "", cleaned)


def parse_group_sheet(
    columns: dict[str, tuple[str, ...]], lines: Iterable[Sequence[object]]
) -> list[GroupRow]:
    """Reads a 结对 or 联盟 sheet: its first line names the columns; blank rows are skipped."""
    headers = {_key(alias): name for name, aliases in columns.items() for alias in aliases}
    iterator = iter(lines)
    header = next(iterator, None) or ()
    positions = {
        index: headers[_key(cell_text(raw))]
        for index, raw in enumerate(header)
        if _key(cell_text(raw)) in headers
    }
    rows = []
    for number, line in enumerate(iterator, start=2):
        cells = {name: "" for name in columns}
        for index, name in positions.items():
            cells[name] = _cell(line[index]) if index < len(line) else ""
        if any(cells.values()):
            rows.append(GroupRow(number, cells))
    return rows


def _cell(value: object) -> str:
    """Turns a cell into text; dates typed as dates keep their ISO form."""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return cell_text(value)


def read_workbook(path: Path, *, progress: Progress | None = None) -> Workbook:
    """Reads a district file: an .xlsx with the three sheets, or a .csv of organizations and members.

    `progress` hears how many rows of the organizations and members sheet were read.
    """
    if path.suffix.lower() == ".csv":
        return Workbook(members=read_table(path, progress=progress))
    if path.suffix.lower() != ".xlsx":
        raise ImportFileError(FILE_KIND, file=path.name)
    return _sheets(path.name, path, progress)


def workbook_of(file_name: str, data: bytes, *, progress: Progress | None = None) -> Workbook:
    """Reads an uploaded district file's bytes; the name's suffix says .xlsx or .csv."""
    suffix = PurePath(file_name).suffix.lower()
    if suffix == ".csv":
        return Workbook(members=table_of(file_name, data, progress=progress))
    if suffix != ".xlsx":
        raise ImportFileError(FILE_KIND, file=file_name)
    return _sheets(file_name, io.BytesIO(data), progress)


def _sheets(file_name: str, source: Path | IO[bytes], progress: Progress | None) -> Workbook:
    """Reads the sheets of a district .xlsx, from its path or its bytes."""
    book = open_xlsx(file_name, source)
    try:
        found = Workbook()
        names = book.sheetnames
        member_sheet = MEMBER_SHEET if MEMBER_SHEET in names else None
        if member_sheet is None:
            others = [n for n in names if n not in {PAIRING_SHEET, ALLIANCE_SHEET, NOTES_SHEET}]
            member_sheet = others[0] if others else None
        if member_sheet is not None:
            sheet = book[member_sheet]
            rows = sheet.iter_rows(values_only=True)
            size = sheet.max_row if isinstance(sheet.max_row, int) and sheet.max_row > 1 else None
            found.members = parse_table(
                f"{file_name} [{member_sheet}]",
                rows,
                progress=progress,
                total=size - 1 if size is not None else None,
            )
        if PAIRING_SHEET in names:
            rows = book[PAIRING_SHEET].iter_rows(values_only=True)
            found.pairings = parse_group_sheet(PAIRING_COLUMNS, rows)
        if ALLIANCE_SHEET in names:
            rows = book[ALLIANCE_SHEET].iter_rows(values_only=True)
            found.alliances = parse_group_sheet(ALLIANCE_COLUMNS, rows)
        return found
    finally:
        book.close()


def _codes(text: str) -> tuple[str, ...]:
    """Splits a cell listing organization codes."""
    return tuple(code.upper() for code in LIST_SPLIT.split(text.strip()) if code)


@dataclass(frozen=True, slots=True)
class Reach:
    """What an importer limited to a scope may name: organizations, and the group codes it may not."""

    orgs: frozenset[str]
    foreign_groups: frozenset[str] = frozenset()


class _Checker:
    """Collects the errors of one group sheet."""

    def __init__(self, sheet: str, known: set[str], reach: Reach | None) -> None:
        self.sheet = sheet
        self.known = known
        self.reach = reach
        self.errors: list[GroupError] = []
        self.seen: dict[str, int] = {}

    def bad(self, where: GroupRow, column: str, code: str, **values: object) -> None:
        """Records one bad cell."""
        self.errors.append(GroupError(self.sheet, where.number, column, code, values))

    def required(self, row: GroupRow, columns: Sequence[str]) -> bool:
        """Checks the required cells are filled."""
        empty = [column for column in columns if not row.cells[column]]
        for column in empty:
            self.bad(row, column, R_REQUIRED)
        return not empty

    def day(self, row: GroupRow, column: str) -> date | None:
        """Reads a date cell (None when empty or bad)."""
        text = row.cells[column]
        if not text:
            return None
        try:
            return date.fromisoformat(text[:10])
        except ValueError:
            self.bad(row, column, R_DATE, value=text)
            return None

    def number(self, row: GroupRow, column: str, default: int) -> int:
        """Reads a whole-number cell."""
        text = row.cells[column]
        if not text:
            return default
        if not text.isdigit():
            self.bad(row, column, R_NUMBER, value=text)
            return default
        return int(text)

    def unique(self, row: GroupRow, code: str) -> None:
        """Refuses a code given on two rows."""
        first = self.seen.setdefault(code.upper(), row.number)
        if first != row.number:
            self.bad(row, "code", R_DUPLICATE, row=first)
        elif self.reach is not None and code.strip().upper() in self.reach.foreign_groups:
            self.bad(row, "code", R_GROUP_OUTSIDE, value=code.strip().upper())

    def orgs(self, row: GroupRow, column: str, codes: Sequence[str]) -> None:
        """Refuses organization codes neither the file nor the database has (or out of reach)."""
        for code in codes:
            if self.reach is not None and code not in self.reach.orgs:
                # Unknown and out of reach read the same: no door tells which codes exist.
                self.bad(row, column, R_OUTSIDE, value=code)
            elif code not in self.known:
                self.bad(row, column, R_ORG_UNKNOWN, value=code)

    def refused(self, row: GroupRow, column: str, error: ServiceError) -> None:
        """Records a use case's refusal on the cell it is about."""
        self.bad(row, column, error.code, **error.details)


# Which column a use case's refusal is about.
PAIRING_REFUSALS = {
    "bad_group_code": "code",
    "bad_name": "name",
    "pairing_lead_needed": "lead",
    "pairing_lead_is_partner": "partners",
    "pairing_one_to_one": "partners",
    "pairing_needs_several": "partners",
    "agreement_ends_before_start": "end",
    "bad_visit_target": "visits",
    "bad_form": "form",
}
ALLIANCE_REFUSALS = {
    "bad_group_code": "code",
    "bad_name": "name",
    "alliance_presidents": "presidents",
    "units_listed_twice": "members",
    "alliance_theme_order": "theme_order",
    "bad_term": "term",
    "bad_duty_period": "period",
    "bad_convener_rule": "convener",
}


def check_pairing_rows(
    rows: Sequence[GroupRow], known: set[str], reach: Reach | None = None
) -> tuple[list[PairingSpec], list[GroupError]]:
    """Validates the 结对 sheet; returns the specs of its rows and the errors."""
    checker = _Checker(PAIRING_SHEET, known, reach)
    specs = []
    for row in rows:
        cells = row.cells
        if not checker.required(row, REQUIRED_PAIRING):
            continue
        before = len(checker.errors)
        checker.unique(row, cells["code"])
        start, end = checker.day(row, "start"), checker.day(row, "end")
        visits = checker.number(row, "visits", 3)
        partners = _codes(cells["partners"])
        checker.orgs(row, "lead", _codes(cells["lead"]))
        checker.orgs(row, "partners", partners)
        try:
            form = (
                word(FORM_WORDS, cells["form"], "bad_form")
                if cells["form"]
                else (PairingForm.ONE_TO_MANY if len(partners) > 1 else PairingForm.ONE_TO_ONE)
            )
            if start is None:
                continue
            spec = check_pairing(
                PairingSpec(
                    code=cells["code"],
                    name=cells["name"],
                    form=form,
                    lead=cells["lead"],
                    partners=partners,
                    agreement_start=start,
                    agreement_end=end,
                    visit_target=visits,
                    goals=cells["goals"],
                )
            )
        except ServiceError as error:
            checker.refused(row, PAIRING_REFUSALS.get(error.code, "code"), error)
            continue
        if len(checker.errors) == before:
            specs.append(spec)
    return specs, checker.errors


def check_alliance_rows(
    rows: Sequence[GroupRow], known: set[str], reach: Reach | None = None
) -> tuple[list[AllianceSpec], list[GroupError]]:
    """Validates the 联盟 sheet; returns the specs of its rows and the errors."""
    checker = _Checker(ALLIANCE_SHEET, known, reach)
    specs = []
    for row in rows:
        cells = row.cells
        if not checker.required(row, REQUIRED_ALLIANCE):
            continue
        before = len(checker.errors)
        checker.unique(row, cells["code"])
        start = checker.day(row, "start")
        term = checker.number(row, "term", 12)
        presidents, members = _codes(cells["presidents"]), _codes(cells["members"])
        checker.orgs(row, "presidents", presidents)
        checker.orgs(row, "members", members)
        try:
            period = (
                word(PERIOD_WORDS, cells["period"], "bad_duty_period")
                if cells["period"]
                else DutyPeriod.MONTH
            )
            convener = (
                word(CONVENER_WORDS, cells["convener"], "bad_convener_rule")
                if cells["convener"]
                else ConvenerRule.EXECUTIVE
            )
            if start is None:
                continue
            spec = check_alliance(
                AllianceSpec(
                    code=cells["code"],
                    name=cells["name"],
                    presidents=presidents,
                    members=members,
                    rota_start=start,
                    duty_period=period,
                    executive_term_months=term,
                    convener_rule=convener,
                    theme_order=_codes(cells["theme_order"]),
                )
            )
        except ServiceError as error:
            checker.refused(row, ALLIANCE_REFUSALS.get(error.code, "code"), error)
            continue
        if len(checker.errors) == before:
            specs.append(spec)
    return specs, checker.errors


def _known_codes(orgs: Sequence[Organization], members: Table | None) -> set[str]:
    """Lists the organization codes the database (its `orgs`) and the file's member sheet name."""
    stored = {org.code for org in orgs}
    if members is not None:
        stored |= {row.cells["org_code"].upper() for row in members.rows if row.cells["org_code"]}
    return stored


def _same_pairing(session: Session, spec: PairingSpec) -> bool | None:
    """Tells whether a stored pairing already reads as `spec` (None when there is none)."""
    try:
        stored = pairing_spec(session, spec.code)
    except ServiceError:
        return None
    return replace(stored, partners=tuple(sorted(stored.partners))) == replace(
        spec, partners=tuple(sorted(spec.partners))
    )


def _same_alliance(session: Session, spec: AllianceSpec) -> bool | None:
    """Tells whether a stored alliance already reads as `spec` (None when there is none)."""
    try:
        stored = alliance_spec(session, spec.code)
    except ServiceError:
        return None
    return stored == replace(
        spec, theme_order=tuple(merge_orders(spec.theme_order, spec.presidents))
    )


def reach_of(
    session: Session,
    table: Table | None,
    scope: frozenset[int],
    orgs: Sequence[Organization],
) -> tuple[Reach, list[RowError]]:
    """Works out what a file may touch from a scope (a committee's subtree).

    Stored organizations (`orgs`, every one) must lie in the scope; a new one must hang, through
    the file's parent codes, under one that does; an existing pairing or alliance may be
    rewritten only when all its organizations lie in the scope. Returns the reach and the member
    sheet's refused rows.
    """
    stored = {org.code: org for org in orgs}
    rows = table.rows if table is not None else []
    parents: dict[str, str] = {}
    for row in rows:
        code, parent = row.cells["org_code"].upper(), row.cells["parent_code"].upper()
        if code and parent:
            parents.setdefault(code, parent)

    def inside(code: str, depth: int = 0) -> bool:
        org = stored.get(code)
        if org is not None:
            return org.id in scope
        parent = parents.get(code)
        return parent is not None and depth < MAX_DEPTH and inside(parent, depth + 1)

    errors: list[RowError] = []
    homeless: set[str] = set()
    for row in rows:
        code, parent = row.cells["org_code"].upper(), row.cells["parent_code"].upper()
        if not code:
            continue
        if code in stored and not inside(code):
            errors.append(RowError(row.number, "org_code", R_MEMBER_OUTSIDE, {"value": code}))
        elif parent and not inside(parent):
            errors.append(RowError(row.number, "parent_code", R_MEMBER_OUTSIDE, {"value": parent}))
        elif not parent and not inside(code) and code not in homeless:
            homeless.add(code)
            errors.append(RowError(row.number, "parent_code", R_NEW_OUTSIDE, {"value": code}))
    ours = {code for code, org in stored.items() if org.id in scope}
    named = {row.cells["org_code"].upper() for row in rows if row.cells["org_code"]}
    # One statement whatever the number of groups: each group's code with its organizations.
    linked = union_all(
        select(col(Pairing.code), col(PairingOrg.organization_id)).join(
            PairingOrg, col(PairingOrg.pairing_id) == Pairing.id
        ),
        select(col(Alliance.code), col(AllianceUnit.organization_id)).join(
            AllianceUnit, col(AllianceUnit.alliance_id) == Alliance.id
        ),
    )
    foreign = {code for code, org_id in session.execute(linked).all() if org_id not in scope}
    reach = Reach(
        orgs=frozenset(ours | {code for code in named if inside(code)}),
        foreign_groups=frozenset(foreign),
    )
    return reach, errors


def import_district(
    session: Session,
    workbook: Workbook,
    *,
    now: datetime,
    dry_run: bool,
    source: str = "",
    progress: Progress | None = None,
    scope: frozenset[int] | None = None,
    actor_id: int | None = None,
    retime: OrgLifeRetimer | None = None,
) -> DistrictReport:
    """Validates every sheet and, when all rows are valid, imports them in one transaction.

    `progress` hears the organizations and members sheet checked and written. With a scope (a
    committee's subtree), every organization, pairing and alliance the file touches must lie in it.
    A new org-life time goes through `retime` (`Services.retime_org_life`, which
    `Services.import_district` passes), moving the days planned at the old time; a caller
    without the use cases passes none, and those days stay where they are.
    """
    members_table = workbook.members or Table(rows=[])
    # Every stored organization, read once for the checks here and the member sheet's.
    stored = session.exec(select(Organization)).all()
    known = _known_codes(stored, workbook.members)
    reach, outside = (
        reach_of(session, workbook.members, scope, stored) if scope is not None else (None, [])
    )
    pairings, pairing_errors = check_pairing_rows(workbook.pairings, known, reach)
    alliances, alliance_errors = check_alliance_rows(workbook.alliances, known, reach)
    outer = session.begin_nested()
    try:
        members = import_members(
            session,
            members_table,
            now=now,
            dry_run=False,
            source=source,
            progress=progress,
            actor_id=actor_id,
            retime=retime,
            orgs=stored,
        )
        if outside:
            # A cell naming an organization out of reach says only that, nothing about it.
            cells = {(error.row, error.column) for error in outside}
            rest = [error for error in members.errors if (error.row, error.column) not in cells]
            members.errors = sorted(
                [*rest, *outside],
                key=lambda error: (error.row, COLUMN_ORDER[error.column]),
            )
        report = DistrictReport(members=members, group_errors=pairing_errors + alliance_errors)
        report.members.dry_run = dry_run
        if report.ok:
            for pairing in pairings:
                same = _same_pairing(session, pairing)
                if same:
                    continue
                save_pairing(session, spec=pairing, now=now, actor_id=actor_id, replace=True)
                if same is None:
                    report.pairings_created += 1
                else:
                    report.pairings_updated += 1
            for alliance in alliances:
                same = _same_alliance(session, alliance)
                if same:
                    continue
                save_alliance(session, spec=alliance, now=now, actor_id=actor_id, replace=True)
                if same is None:
                    report.alliances_created += 1
                else:
                    report.alliances_updated += 1
        session.flush()
    except BaseException:
        outer.rollback()
        raise
    if dry_run or not report.ok:
        outer.rollback()
    else:
        outer.commit()
    return report
