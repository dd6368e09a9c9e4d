"""Bulk import of organizations, members and roles from a spreadsheet: all rows or none."""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time
from enum import StrEnum
from itertools import islice
from pathlib import Path, PurePath
from typing import IO, Any, Protocol, TypeVar
from zipfile import BadZipFile

from sqlalchemy import Table as SqlTable
from sqlalchemy import bindparam, update
from sqlalchemy import select as select_columns
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot.core.domain import MemberStatus, OrgKind, RoleKind
from bot.core.i18n import N_
from bot.services.audit_trail import record_change
from bot.services.errors import ServiceError
from bot.services.structure import check_setting
from storage.models import Member, Organization, Role, RoleTerm
from storage.queries import bulk_insert

# Every column, by its canonical name, with the headers that mean it (compared without case,
# spaces or full-width brackets).
COLUMNS: dict[str, tuple[str, ...]] = {
    "org_code": ("org_code", "orgcode", "组织代码", "组织编码", "代码"),
    "org_name": ("org_name", "orgname", "组织名称", "组织", "党组织名称"),
    "org_kind": ("org_kind", "orgkind", "kind", "类型", "组织类型"),
    "parent_code": ("parent_code", "parentcode", "parent", "上级", "上级代码", "上级组织代码"),
    "member_name": ("member_name", "membername", "name", "姓名"),
    "roles": ("role", "roles", "role(s)", "职务", "身份", "职务/身份", "角色"),
    "status": ("status", "状态", "党员状态"),
    "phone": ("phone", "电话", "手机", "联系电话", "手机号"),
    "mobile": ("mobile", "流动党员", "流动", "是否流动党员"),
    "orglife_time": ("orglife_time", "orglife.time", "组织生活时间", "组织生活日时间"),
    "orglife_venue": ("orglife_venue", "orglife.venue", "组织生活地点", "地点"),
    "holiday_policy": ("holiday_policy", "节假日处理", "节假日", "节假日政策"),
}
# An organization's settings, by column, with the key `structure.check_setting` knows them by.
SETTING_COLUMNS = {
    "orglife_time": "orglife.time",
    "orglife_venue": "orglife.venue",
    "holiday_policy": "holiday_policy",
}
MEMBER_COLUMNS = ("roles", "status", "phone", "mobile")

ORG_KIND_WORDS: dict[str, OrgKind] = {
    "committee": OrgKind.COMMITTEE,
    "党委": OrgKind.COMMITTEE,
    "党工委": OrgKind.COMMITTEE,
    "党(工)委": OrgKind.COMMITTEE,
    "general_branch": OrgKind.GENERAL_BRANCH,
    "党总支": OrgKind.GENERAL_BRANCH,
    "总支": OrgKind.GENERAL_BRANCH,
    "branch": OrgKind.BRANCH,
    "党支部": OrgKind.BRANCH,
    "支部": OrgKind.BRANCH,
    "joint_branch": OrgKind.JOINT_BRANCH,
    "联合党支部": OrgKind.JOINT_BRANCH,
    "联合支部": OrgKind.JOINT_BRANCH,
}
ROLE_WORDS: dict[str, RoleKind] = {
    "secretary": RoleKind.SECRETARY,
    "书记": RoleKind.SECRETARY,
    "支部书记": RoleKind.SECRETARY,
    "党支部书记": RoleKind.SECRETARY,
    "deputy": RoleKind.DEPUTY,
    "副书记": RoleKind.DEPUTY,
    "支部副书记": RoleKind.DEPUTY,
    "committee": RoleKind.COMMITTEE,
    "支委委员": RoleKind.COMMITTEE,
    "委员": RoleKind.COMMITTEE,
    "支委": RoleKind.COMMITTEE,
    "支部委员": RoleKind.COMMITTEE,
    "组织委员": RoleKind.COMMITTEE,
    "宣传委员": RoleKind.COMMITTEE,
    "纪检委员": RoleKind.COMMITTEE,
    "liaison": RoleKind.LIAISON,
    "联络员": RoleKind.LIAISON,
    "member": RoleKind.MEMBER,
    "党员": RoleKind.MEMBER,
    "成员": RoleKind.MEMBER,
}
STATUS_WORDS: dict[str, MemberStatus] = {
    "full": MemberStatus.FULL,
    "正式": MemberStatus.FULL,
    "正式党员": MemberStatus.FULL,
    "probationary": MemberStatus.PROBATIONARY,
    "预备": MemberStatus.PROBATIONARY,
    "预备党员": MemberStatus.PROBATIONARY,
    "departed": MemberStatus.DEPARTED,
    "离开": MemberStatus.DEPARTED,
    "已离开": MemberStatus.DEPARTED,
    "转出": MemberStatus.DEPARTED,
    "已转出": MemberStatus.DEPARTED,
}
# 身份 columns often say 正式党员 / 预备党员: a member role that also names the status.
STATUS_IN_ROLES = {"正式党员": MemberStatus.FULL, "预备党员": MemberStatus.PROBATIONARY}
TRUE_WORDS = frozenset({"true", "yes", "y", "1", "是", "√", "✓", "流动", "流动党员"})
FALSE_WORDS = frozenset({"false", "no", "n", "0", "否", "×", "不是", "非流动"})
ROLE_SEPARATORS = re.compile(r"[,，、/;；|\s]+")
ORG_CODE_PATTERN = re.compile(r"[A-Z0-9][A-Z0-9_.-]{0,31}")
PHONE_PATTERN = re.compile(r"\+?[0-9]{5,20}")
MAX_ORG_NAME = 200
MAX_MEMBER_NAME = 100
# 004 篇四/五 §(二): a branch has at most 50 members; more must split or form a general branch.
MAX_BRANCH_MEMBERS = 50
# The leaves of the tree (committee → general branch → branch): capped, and parents of nothing.
BRANCH_KINDS = frozenset({OrgKind.BRANCH, OrgKind.JOINT_BRANCH})
# What a new organization becomes when the file leaves its kind empty.
DEFAULT_ORG_KIND = OrgKind.BRANCH

# Reasons, with the fields their sentences name.
R_REQUIRED = N_("a value is required")
R_ORG_CODE = N_("not an organization code (letters, digits, - or _; at most 32)")
R_TOO_LONG = N_("longer than {limit} characters")
R_ORG_KIND = N_(
    "unknown kind {value} (committee, general_branch, branch, joint_branch or 党委/党总支/党支部/联合党支部)"
)
R_ROLE = N_(
    "unknown role {value} (secretary, deputy, committee, liaison, member or 书记/副书记/委员/联络员/党员)"
)
R_STATUS = N_("unknown status {value} (full, probationary, departed or 正式/预备/转出)")
R_STATUS_CONFLICT = N_("the status contradicts {value} in the roles")
R_YES_NO = N_("not yes or no: {value}")
R_PHONE = N_("not a phone number")
R_PARENT_UNKNOWN = N_("no organization has the code {value}, in the file or the database")
R_PARENT_SELF = N_("an organization cannot be its own parent")
R_PARENT_CYCLE = N_("the parents form a loop through {value}")
R_PARENT_BRANCH = N_(
    "{value} is a branch or joint branch (as is a new organization without a kind):"
    " it cannot be the parent of another organization"
)
R_HAS_CHILDREN = N_(
    "{value} has subordinate organizations ({children}): it cannot become a branch or joint"
    " branch until they move to another parent"
)
R_BRANCH_TOO_BIG = N_(
    "{name} ({code}) would have {count} current members, more than the {limit} a branch or"
    " joint branch may have: split it, or make it a general branch over smaller branches"
)
R_CONFLICT = N_("contradicts row {row}")
R_NAME_FOR_NEW = N_("{value} is a new organization: give its name")
R_DUPLICATE = N_("the same member as row {row}")
R_AMBIGUOUS = N_(
    "{count} members of this organization have this name: add the phone to tell them apart"
)
R_MEMBER_NAME_NEEDED = N_("member columns are filled but the name is empty")
R_TIME = N_("not a time of day like 14:30: {value}")
R_POLICY = N_("unknown holiday policy {value} (keep, next_workday or 照常/顺延)")
R_SETTING = {"bad_time": R_TIME, "bad_policy": R_POLICY, "bad_name": R_TOO_LONG}

FILE_UNREADABLE = N_("Cannot read {file}: {reason}")
FILE_KIND = N_("{file}: only .xlsx and .csv files can be imported")
FILE_NO_HEADER = N_("{file} is empty: the first row must name the columns")
FILE_NO_CODE = N_("{file} has no organization code column (org_code or 组织代码)")
FILE_DUPLICATE_COLUMN = N_("{file} has two columns for {column}")


# Rows between two progress reports, and rows written by one statement: a bar moves smoothly and
# each statement stays a few hundred kilobytes.
PROGRESS_EVERY = 1_000
WRITE_BATCH = 2_000
# Stored organizations looked up per statement (SQLite binds at most 999 values on old builds).
LOOKUP_BATCH = 500


class Phase(StrEnum):
    """The steps of an import, in order, that report their progress."""

    READ = "read"
    CHECK = "check"
    WRITE = "write"


class Progress(Protocol):
    """Hears how far an import is: `done` of `total` rows (total None when not known yet)."""

    def __call__(self, phase: Phase, done: int, total: int | None) -> None:
        """Takes one report; `done` never decreases within a phase."""


class OrgLifeRetimer(Protocol):
    """Moves an organization's org-life days planned at its old time to its new one, audited and
    told to their members: the use case every door that changes the time goes through."""

    def __call__(self, org_id: int, *, old: str, new: str, actor_id: int | None) -> None:
        """Moves the days (those not begun) and tells who takes part."""


class ImportFileError(Exception):
    """The file cannot be read as a table; `message` is an English msgid filled with `values`."""

    def __init__(self, message: str, **values: object) -> None:
        super().__init__(message.format(**values))
        self.message = message
        self.values = values


@dataclass(frozen=True, slots=True)
class RowError:
    """One bad cell: its spreadsheet row (the header is row 1), column and reason."""

    row: int
    column: str
    reason: str
    values: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SourceRow:
    """One data row, by canonical column name, with its spreadsheet row number."""

    number: int
    cells: dict[str, str]


@dataclass(slots=True)
class Table:
    """The rows of a file, and the columns that were not understood (ignored)."""

    rows: list[SourceRow]
    ignored_columns: list[str] = field(default_factory=list)


@dataclass(slots=True)
class ImportReport:
    """What an import found and did (or, in a dry run, would do)."""

    rows: int
    dry_run: bool
    errors: list[RowError] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    orgs_created: int = 0
    orgs_updated: int = 0
    members_created: int = 0
    members_updated: int = 0
    roles_added: int = 0

    @property
    def ok(self) -> bool:
        """Tells whether every row was valid."""
        return not self.errors

    @property
    def changes(self) -> int:
        """Counts every change made (or that would be made)."""
        return (
            self.orgs_created
            + self.orgs_updated
            + self.members_created
            + self.members_updated
            + self.roles_added
        )


# -- reading files -------------------------------------------------------------------------


def _header_key(text: str) -> str:
    """Normalizes a header for lookup: no case, spaces or full-width brackets."""
    cleaned = text.strip().lower().replace("（", "(").replace("）", ")")
    return re.sub(r"[\s\u3000]+", "", cleaned)


HEADERS: dict[str, str] = {
    _header_key(alias): name for name, aliases in COLUMNS.items() for alias in aliases
}


def cell_text(value: object) -> str:
    """Turns a spreadsheet cell into text (phone numbers stored as numbers keep their digits)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, time):
        # A time typed as a time in Excel or WPS reads back as 14:30:00; the sheet means 14:30.
        return value.strftime("%H:%M") if not value.second else value.isoformat()
    return str(value).strip()


# Columns whose cells repeat from row to row (an organization's cells are on each of its members'
# rows): equal cells share one string, which keeps a city's file a fraction of its size in memory.
REPEATING = frozenset(COLUMNS) - {"member_name", "phone"}


def parse_table(
    file_name: str,
    lines: Iterable[Sequence[object]],
    *,
    progress: Progress | None = None,
    total: int | None = None,
) -> Table:
    """Maps the first line's headers to columns and reads the rest as rows (blank rows skipped).

    `progress` hears how many lines were read, of `total` when the caller knows it.
    """
    iterator = iter(lines)
    header = next(iterator, None)
    if header is None or not any(cell_text(cell) for cell in header):
        raise ImportFileError(FILE_NO_HEADER, file=file_name)
    positions: dict[int, str] = {}
    ignored: list[str] = []
    for index, raw in enumerate(header):
        label = cell_text(raw)
        name = HEADERS.get(_header_key(label))
        if name is None:
            if label:
                ignored.append(label)
            continue
        if name in positions.values():
            raise ImportFileError(FILE_DUPLICATE_COLUMN, file=file_name, column=name)
        positions[index] = name
    if "org_code" not in positions.values():
        raise ImportFileError(FILE_NO_CODE, file=file_name)
    shared: dict[str, str] = {}
    rows: list[SourceRow] = []
    read = 0
    for read, line in enumerate(iterator, start=1):
        cells = dict.fromkeys(COLUMNS, "")
        width = len(line)
        for index, name in positions.items():
            if index < width:
                text = cell_text(line[index])
                cells[name] = shared.setdefault(text, text) if name in REPEATING else text
        if any(cells.values()):
            rows.append(SourceRow(read + 1, cells))
        if progress is not None and read % PROGRESS_EVERY == 0:
            progress(Phase.READ, read, max(total, read) if total is not None else None)
    if progress is not None:
        progress(Phase.READ, read, read)
    return Table(rows, ignored)


def read_table(path: Path, *, progress: Progress | None = None) -> Table:
    """Reads an .xlsx (first sheet) or .csv file (UTF-8, or GB18030 as Excel saves it in China)."""
    suffix = path.suffix.lower()
    if suffix not in (".xlsx", ".csv"):
        raise ImportFileError(FILE_KIND, file=path.name)
    if suffix == ".csv":
        try:
            data = path.read_bytes()
        except OSError as error:
            raise ImportFileError(
                FILE_UNREADABLE, file=path.name, reason=error.strerror or error
            ) from None
        return _csv_table(path.name, data, progress)
    return xlsx_table(path.name, path, progress)


def table_of(file_name: str, data: bytes, *, progress: Progress | None = None) -> Table:
    """Reads an uploaded .xlsx (first sheet) or .csv file's bytes; the name says which it is."""
    suffix = PurePath(file_name).suffix.lower()
    if suffix not in (".xlsx", ".csv"):
        raise ImportFileError(FILE_KIND, file=file_name)
    if suffix == ".csv":
        return _csv_table(file_name, data, progress)
    return xlsx_table(file_name, io.BytesIO(data), progress)


def _csv_table(file_name: str, data: bytes, progress: Progress | None) -> Table:
    """Reads a .csv file's bytes: UTF-8 (with or without a BOM), else GB18030."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError:
            raise ImportFileError(
                FILE_UNREADABLE, file=file_name, reason="not UTF-8 or GB18030 text"
            ) from None
    lines = csv.reader(io.StringIO(text, newline=""))
    return parse_table(file_name, lines, progress=progress, total=text.count("\n"))


def xlsx_table(file_name: str, source: Path | IO[bytes], progress: Progress | None) -> Table:
    """Reads the first sheet of an .xlsx file, from its path or its bytes."""
    workbook = open_xlsx(file_name, source)
    try:
        sheet = workbook.worksheets[0]
        # The sheet's declared size, when the writer declared it: an estimate, for the bar only.
        size = sheet.max_row if isinstance(sheet.max_row, int) and sheet.max_row > 1 else None
        return parse_table(
            file_name,
            sheet.iter_rows(values_only=True),
            progress=progress,
            total=size - 1 if size is not None else None,
        )
    finally:
        workbook.close()


def open_xlsx(file_name: str, source: Path | IO[bytes]) -> Any:
    """Opens an .xlsx read-only, refusing what is not one in the import's words."""
    from openpyxl import load_workbook  # noqa: PLC0415 (only imports need the spreadsheet reader)
    from openpyxl.utils.exceptions import InvalidFileException  # noqa: PLC0415

    try:
        # Read-only: rows stream from the zip member as they are parsed, never a whole sheet.
        return load_workbook(source, read_only=True, data_only=True)
    except OSError as error:
        raise ImportFileError(
            FILE_UNREADABLE, file=file_name, reason=error.strerror or error
        ) from None
    except (BadZipFile, InvalidFileException, KeyError, ValueError) as error:
        raise ImportFileError(
            FILE_UNREADABLE, file=file_name, reason=str(error) or "not an xlsx file"
        ) from None


# -- validation ----------------------------------------------------------------------------


@dataclass(slots=True)
class OrgEntry:
    """An organization the file names, merged over its rows."""

    code: str
    row: int
    name: str | None = None
    kind: OrgKind | None = None
    parent_code: str | None = None
    name_row: int = 0
    kind_row: int = 0
    parent_row: int = 0
    # Branch settings by column: (value as stored, row).
    settings: dict[str, tuple[str, int]] = field(default_factory=dict)


@dataclass(slots=True)
class MemberEntry:
    """A member row: blank cells (None) leave a stored member's value as it is."""

    row: int
    org_code: str
    name: str
    roles: set[RoleKind]
    status: MemberStatus | None
    phone: str | None
    mobile: bool | None


@dataclass(slots=True)
class Plan:
    """The validated content of a file."""

    orgs: dict[str, OrgEntry] = field(default_factory=dict)
    members: list[MemberEntry] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    # The row of each member (organization code, name, phone) first met, to refuse repeats.
    member_rows: dict[tuple[str, str, str | None], int] = field(default_factory=dict)


def _words(text: str) -> list[str]:
    """Splits a cell listing several words."""
    return [word for word in ROLE_SEPARATORS.split(text.strip()) if word]


def _validate_row(row: SourceRow, plan: Plan) -> None:
    """Checks one row's cells and merges it into the plan, collecting every error."""
    cells, number = row.cells, row.number
    errors: list[RowError] = []

    def bad(column: str, reason: str, **values: object) -> None:
        errors.append(RowError(number, column, reason, values))

    code = cells["org_code"].upper()
    if not code:
        bad("org_code", R_REQUIRED)
    elif not ORG_CODE_PATTERN.fullmatch(code):
        bad("org_code", R_ORG_CODE)
    name = cells["org_name"] or None
    if name and len(name) > MAX_ORG_NAME:
        bad("org_name", R_TOO_LONG, limit=MAX_ORG_NAME)
    kind: OrgKind | None = None
    if cells["org_kind"]:
        kind = ORG_KIND_WORDS.get(_header_key(cells["org_kind"]))
        if kind is None:
            bad("org_kind", R_ORG_KIND, value=cells["org_kind"])
    parent = cells["parent_code"].upper() or None
    if parent is not None and not ORG_CODE_PATTERN.fullmatch(parent):
        bad("parent_code", R_ORG_CODE)
    elif parent is not None and parent == code:
        bad("parent_code", R_PARENT_SELF)
        parent = None

    member_name = cells["member_name"]
    roles: set[RoleKind] = set()
    status_hint: MemberStatus | None = None
    for word in _words(cells["roles"]):
        role = ROLE_WORDS.get(word.lower())
        hinted = STATUS_IN_ROLES.get(word)
        if role is None and hinted is None:
            bad("roles", R_ROLE, value=word)
        roles.add(role or RoleKind.MEMBER)
        status_hint = hinted or status_hint
    status: MemberStatus | None = status_hint
    if cells["status"]:
        status = STATUS_WORDS.get(cells["status"].lower())
        if status is None:
            bad("status", R_STATUS, value=cells["status"])
        elif status_hint is not None and status is not status_hint:
            bad("status", R_STATUS_CONFLICT, value=status_hint.value)
    phone: str | None = None
    if cells["phone"]:
        phone = re.sub(r"[\s\-()（）]", "", cells["phone"])
        if not PHONE_PATTERN.fullmatch(phone):
            bad("phone", R_PHONE)
    mobile: bool | None = None
    if cells["mobile"]:
        word = cells["mobile"].lower()
        if word in TRUE_WORDS:
            mobile = True
        elif word in FALSE_WORDS:
            mobile = False
        else:
            bad("mobile", R_YES_NO, value=cells["mobile"])
    if member_name and len(member_name) > MAX_MEMBER_NAME:
        bad("member_name", R_TOO_LONG, limit=MAX_MEMBER_NAME)
    if not member_name and any(cells[column] for column in MEMBER_COLUMNS):
        bad("member_name", R_MEMBER_NAME_NEEDED)

    settings: dict[str, str] = {}
    for column, setting in SETTING_COLUMNS.items():
        if not cells[column]:
            continue
        try:
            settings[column] = check_setting(setting, cells[column])[1]
        except ServiceError as refusal:
            bad(column, R_SETTING[refusal.code], **refusal.details)
    if code and not any(e.column == "org_code" for e in errors):
        _merge_org(
            plan, number=number, code=code, name=name, kind=kind, parent=parent, errors=errors
        )
        entry = plan.orgs[code]
        for column, value in settings.items():
            first, first_row = entry.settings.setdefault(column, (value, number))
            if first != value:
                errors.append(RowError(number, column, R_CONFLICT, {"row": first_row}))
    if member_name and not errors:
        earlier = plan.member_rows.setdefault((code, member_name, phone), number)
        if earlier != number:
            errors.append(RowError(number, "member_name", R_DUPLICATE, {"row": earlier}))
        else:
            plan.members.append(
                MemberEntry(number, code, member_name, roles, status, phone, mobile)
            )
    plan.errors.extend(errors)


def _merge_org(
    plan: Plan,
    *,
    number: int,
    code: str,
    name: str | None,
    kind: OrgKind | None,
    parent: str | None,
    errors: list[RowError],
) -> None:
    """Adds a row's organization cells to the plan; cells that contradict an earlier row are errors."""
    entry = plan.orgs.setdefault(code, OrgEntry(code, number))
    if name is not None:
        if entry.name is not None and entry.name != name:
            errors.append(RowError(number, "org_name", R_CONFLICT, {"row": entry.name_row}))
        elif entry.name is None:
            entry.name, entry.name_row = name, number
    if kind is not None:
        if entry.kind is not None and entry.kind is not kind:
            errors.append(RowError(number, "org_kind", R_CONFLICT, {"row": entry.kind_row}))
        elif entry.kind is None:
            entry.kind, entry.kind_row = kind, number
    if parent is not None:
        if entry.parent_code is not None and entry.parent_code != parent:
            errors.append(RowError(number, "parent_code", R_CONFLICT, {"row": entry.parent_row}))
        elif entry.parent_code is None:
            entry.parent_code, entry.parent_row = parent, number


def _check_against_database(
    plan: Plan, stored: dict[str, Organization], session: Session
) -> _Roster:
    """Checks what depends on stored data: parents, new organizations' names, loops, namesakes.

    Returns the members as the file leaves them (the rows replayed on the stored members).
    """
    for entry in plan.orgs.values():
        if entry.code not in stored and entry.name is None:
            plan.errors.append(
                RowError(entry.row, "org_name", R_NAME_FOR_NEW, {"value": entry.code})
            )
        parent = entry.parent_code
        if parent is not None and parent not in plan.orgs and parent not in stored:
            plan.errors.append(
                RowError(entry.parent_row, "parent_code", R_PARENT_UNKNOWN, {"value": parent})
            )
        elif parent is not None and _kind_after(parent, plan, stored) in BRANCH_KINDS:
            plan.errors.append(
                RowError(entry.parent_row, "parent_code", R_PARENT_BRANCH, {"value": parent})
            )
    by_id = {org.id: code for code, org in stored.items()}
    for entry in plan.orgs.values():
        if entry.parent_code is None:
            continue
        seen = {entry.code}
        cursor: str | None = entry.parent_code
        while cursor is not None:
            if cursor in seen:
                plan.errors.append(
                    RowError(entry.parent_row, "parent_code", R_PARENT_CYCLE, {"value": cursor})
                )
                break
            seen.add(cursor)
            cursor = _parent_of(cursor, plan, stored, by_id)
    _check_new_branches_have_no_children(plan, stored, by_id)
    roster = _Roster.load(session, [stored[code] for code in plan.orgs if code in stored])
    for row in plan.members:
        found = _matches(roster.people.get((row.org_code, row.name), []), row.phone)
        if len(found) > 1:
            plan.errors.append(RowError(row.row, "member_name", R_AMBIGUOUS, {"count": len(found)}))
    _check_branch_sizes(plan, stored, roster)
    return roster


def _check_new_branches_have_no_children(
    plan: Plan, stored: dict[str, Organization], by_id: dict[int | None, str]
) -> None:
    """Refuses making a stored organization a branch while stored organizations still sit under it.

    Rows of the file that name such a parent are refused on their own row (R_PARENT_BRANCH).
    """
    left_under: dict[str, list[str]] = {}
    for code in stored:
        entry = plan.orgs.get(code)
        if entry is not None and entry.parent_code is not None:
            continue
        parent = _parent_of(code, plan, stored, by_id)
        if parent is not None:
            left_under.setdefault(parent, []).append(code)
    for entry in plan.orgs.values():
        org = stored.get(entry.code)
        children = left_under.get(entry.code)
        if org is None or org.kind in BRANCH_KINDS or not children:
            continue
        if _kind_after(entry.code, plan, stored) not in BRANCH_KINDS:
            continue
        shown = ", ".join(sorted(children)[:5]) + (", ..." if len(children) > 5 else "")
        plan.errors.append(
            RowError(
                entry.kind_row or entry.row,
                "org_kind",
                R_HAS_CHILDREN,
                {"value": entry.code, "children": shown},
            )
        )


def _kind_after(code: str, plan: Plan, stored: dict[str, Organization]) -> OrgKind | None:
    """Returns an organization's kind after the import (the file wins over the database)."""
    entry = plan.orgs.get(code)
    if entry is not None and entry.kind is not None:
        return entry.kind
    org = stored.get(code)
    if org is not None:
        return org.kind
    return DEFAULT_ORG_KIND if entry is not None else None


@dataclass(slots=True)
class _Someone:
    """A member as the import would leave them: stored (with an id) or new (id None until written)."""

    org_code: str
    name: str
    status: MemberStatus
    phone: str | None
    mobile: bool
    id: int | None = None
    departed_at: datetime | None = None
    # A stored member changed by some row, and whether its status was (which sets departed_at).
    changed: bool = False
    status_changed: bool = False
    # Roles the file gives them that they do not hold yet.
    granted: set[RoleKind] | None = None

    @property
    def current(self) -> bool:
        """Tells whether the member still belongs to the organization."""
        return self.status is not MemberStatus.DEPARTED


@dataclass(slots=True)
class _Roster:
    """The members of the organizations a file names, by (organization code, name), and roles held."""

    people: dict[tuple[str, str], list[_Someone]] = field(default_factory=dict)
    held: set[tuple[int, int, RoleKind]] = field(default_factory=set)
    # Filled by `_check_branch_sizes` replaying the rows: whom each member row means, new members
    # in the order their rows come, and how many rows change a member.
    targets: list[_Someone] = field(default_factory=list)
    created: list[_Someone] = field(default_factory=list)
    updated_rows: int = 0

    @classmethod
    def load(cls, session: Session, orgs: Sequence[Organization]) -> _Roster:
        """Reads the stored members and roles of `orgs`: plain rows, a few statements in all."""
        roster = cls()
        connection = session.connection()
        code_of = {org.id: org.code for org in orgs}
        ids = list(code_of)
        for start in range(0, len(ids), LOOKUP_BATCH):
            chunk = ids[start : start + LOOKUP_BATCH]
            members = select_columns(
                col(Member.id),
                col(Member.organization_id),
                col(Member.name),
                col(Member.status),
                col(Member.phone),
                col(Member.mobile),
                col(Member.departed_at),
            ).where(col(Member.organization_id).in_(chunk))
            for member_id, org_id, name, status, phone, mobile, departed_at in connection.execute(
                members.order_by(col(Member.id))
            ):
                code = code_of[org_id]
                roster.people.setdefault((code, name), []).append(
                    _Someone(code, name, status, phone, mobile, member_id, departed_at)
                )
            roles = select_columns(
                col(Role.organization_id), col(Role.member_id), col(Role.role)
            ).where(col(Role.organization_id).in_(chunk))
            roster.held.update(
                (org_id, member_id, role) for org_id, member_id, role in connection.execute(roles)
            )
        return roster


def _check_branch_sizes(plan: Plan, stored: dict[str, Organization], roster: _Roster) -> None:
    """Refuses a file that leaves a branch or joint branch over MAX_BRANCH_MEMBERS members.

    It replays the member rows on the roster as the import writes them, keeping the outcome.
    """
    before: Counter[str] = Counter()
    for (code, _name), namesakes in roster.people.items():
        before[code] += sum(someone.current for someone in namesakes)
    after = Counter(before)
    joining: dict[str, list[int]] = {}
    for row in plan.members:
        namesakes = roster.people.setdefault((row.org_code, row.name), [])
        found = _matches(namesakes, row.phone)
        if found:
            someone, was_current = found[0], found[0].current
            if _change(someone, row):
                roster.updated_rows += 1
        else:
            status = row.status or MemberStatus.FULL
            someone = _Someone(row.org_code, row.name, status, row.phone, bool(row.mobile))
            was_current = False
            namesakes.append(someone)
            roster.created.append(someone)
        roster.targets.append(someone)
        after[row.org_code] += someone.current - was_current
        if someone.current and not was_current:
            joining.setdefault(row.org_code, []).append(row.row)
    for code, entry in plan.orgs.items():
        count = after[code]
        if _kind_after(code, plan, stored) not in BRANCH_KINDS or count <= MAX_BRANCH_MEMBERS:
            continue
        org = stored.get(code)
        becomes_branch = org is None or org.kind not in BRANCH_KINDS
        # A branch already too big may still be renamed or shrunk; only growth is refused.
        if not becomes_branch and count <= before[code]:
            continue
        rows = joining.get(code, [])
        base = count - len(rows)
        if rows:
            # The first row that no longer fits, counting the rows in file order.
            number, column = rows[max(MAX_BRANCH_MEMBERS - base, 0)], "member_name"
        else:
            number, column = entry.kind_row or entry.row, "org_kind"
        name = entry.name or (org.name if org is not None else code)
        values: dict[str, object] = {
            "name": name,
            "code": code,
            "count": count,
            "limit": MAX_BRANCH_MEMBERS,
        }
        plan.errors.append(RowError(number, column, R_BRANCH_TOO_BIG, values))


def _change(someone: _Someone, row: MemberEntry) -> bool:
    """Applies a row's filled cells to a member met before; returns whether anything changed."""
    changed = False
    if row.status is not None and someone.status is not row.status:
        someone.status, someone.status_changed, changed = row.status, True, True
    if row.phone is not None and someone.phone != row.phone:
        someone.phone, changed = row.phone, True
    if row.mobile is not None and someone.mobile != row.mobile:
        someone.mobile, changed = row.mobile, True
    someone.changed = someone.changed or changed
    return changed


def _parent_of(
    code: str, plan: Plan, stored: dict[str, Organization], by_id: dict[int | None, str]
) -> str | None:
    """Returns an organization's parent code after the import (the file wins over the database)."""
    entry = plan.orgs.get(code)
    if entry is not None and entry.parent_code is not None:
        return entry.parent_code
    org = stored.get(code)
    if org is None or org.parent_id is None:
        return None
    return by_id.get(org.parent_id)


class _Phoned(Protocol):
    """Anything with a member's phone: a stored member or `_Someone`."""

    @property
    def phone(self) -> str | None:
        """Returns the phone number, if any."""


Phoned = TypeVar("Phoned", bound=_Phoned)


def _matches(candidates: list[Phoned], phone: str | None) -> list[Phoned]:
    """Picks the stored namesakes a row means: by phone when it gives one, else all of them."""
    if phone is None:
        return candidates
    same_phone = [m for m in candidates if m.phone == phone]
    if same_phone:
        return same_phone
    # A row adding the phone to a member stored without one still means that member.
    return [m for m in candidates if m.phone is None]


COLUMN_ORDER = {name: index for index, name in enumerate(COLUMNS)}


def _validate(
    table: Table,
    session: Session,
    progress: Progress | None,
    orgs: Sequence[Organization] | None,
) -> tuple[Plan, dict[str, Organization], _Roster]:
    """Checks every row, then against the stored data; returns the plan, known orgs and roster."""
    plan = Plan()
    total = len(table.rows)
    for done, row in enumerate(table.rows, start=1):
        _validate_row(row, plan)
        if progress is not None and done % PROGRESS_EVERY == 0 and done < total:
            progress(Phase.CHECK, done, total)
    if orgs is None:
        orgs = session.exec(select(Organization)).all()
    stored = {org.code: org for org in orgs}
    roster = _check_against_database(plan, stored, session)
    plan.errors.sort(key=lambda error: (error.row, COLUMN_ORDER[error.column]))
    if progress is not None:
        progress(Phase.CHECK, total, total)
    return plan, stored, roster


# -- importing -----------------------------------------------------------------------------


def import_members(
    session: Session,
    table: Table,
    *,
    now: datetime,
    dry_run: bool,
    source: str = "",
    progress: Progress | None = None,
    actor_id: int | None = None,
    retime: OrgLifeRetimer | None = None,
    orgs: Sequence[Organization] | None = None,
) -> ImportReport:
    """Validates every row and, when all are valid, imports them in the caller's transaction.

    A dry run (or any bad row) leaves the database as it was: it counts what would change and
    writes nothing. `progress` hears each phase's rows as they are checked and written. A new
    org-life time for a stored organization goes through `retime` (`Services.retime_org_life`,
    which `Services.import_members` passes), which moves the days planned at the old time; a
    caller without the use cases passes none, and those days stay where they are.
    A write the database refuses (another writer got there first) undoes every write and is
    refused as `import_conflict`. A caller that has just read every stored organization in this
    transaction passes them as `orgs`, and they are not read again.
    """
    report = ImportReport(
        rows=len(table.rows), dry_run=dry_run, ignored_columns=table.ignored_columns
    )
    plan, stored, roster = _validate(table, session, progress, orgs)
    report.errors = plan.errors
    if plan.errors:
        return report
    parent_codes = {org.id: code for code, org in stored.items()}
    changes = {
        entry.code: found
        for entry in plan.orgs.values()
        if entry.code in stored and (found := _org_changes(entry, stored[entry.code], parent_codes))
    }
    grants = _grants(plan, stored, roster)
    # Read before the write below sets the new times on the stored rows.
    retimed = [
        (stored[code].id, stored[code].orglife_time, found["orglife_time"])
        for code, found in changes.items()
        if "orglife_time" in found and retime is not None
    ]
    report.orgs_created = len(plan.orgs) - sum(code in stored for code in plan.orgs)
    report.orgs_updated = len(changes)
    report.members_created = len(roster.created)
    report.members_updated = roster.updated_rows
    report.roles_added = len(grants)
    if dry_run:
        return report
    savepoint = session.begin_nested()
    try:
        _write(
            session,
            plan=plan,
            stored=stored,
            changes=changes,
            roster=roster,
            grants=grants,
            now=now,
            progress=progress,
        )
        for org_id, old, new in retimed:
            assert org_id is not None and retime is not None
            retime(org_id, old=old, new=new, actor_id=actor_id)
        if report.changes:
            record_change(
                session,
                now=now,
                actor_id=actor_id,
                action="members.import",
                subject=f"file:{source}",
                orgs_created=report.orgs_created,
                orgs_updated=report.orgs_updated,
                members_created=report.members_created,
                members_updated=report.members_updated,
                roles_added=report.roles_added,
            )
        session.flush()
    except IntegrityError as error:
        savepoint.rollback()
        raise ServiceError("import_conflict", reason=str(error.orig).splitlines()[0]) from error
    except BaseException:
        savepoint.rollback()
        raise
    savepoint.commit()
    return report


def _org_changes(
    entry: OrgEntry, org: Organization, parent_codes: dict[int | None, str]
) -> dict[str, Any]:
    """Returns what a file changes of a stored organization (a new parent as `parent_code`)."""
    changes: dict[str, Any] = {}
    if entry.name is not None and org.name != entry.name:
        changes["name"] = entry.name
    if entry.kind is not None and org.kind is not entry.kind:
        changes["kind"] = entry.kind
    if entry.parent_code is not None and parent_codes.get(org.parent_id) != entry.parent_code:
        changes["parent_code"] = entry.parent_code
    for column, (value, _row) in entry.settings.items():
        if getattr(org, column) != value:
            changes[column] = value
    return changes


# Roles in the order their rows are written (the enumeration's own iteration is slow in a loop).
ROLE_ORDER = tuple(RoleKind)


def _grants(
    plan: Plan, stored: dict[str, Organization], roster: _Roster
) -> list[tuple[_Someone, RoleKind]]:
    """Lists the roles each member row gives that its member does not hold yet."""
    found: list[tuple[_Someone, RoleKind]] = []
    for row, someone in zip(plan.members, roster.targets, strict=True):
        org_id = stored[row.org_code].id if someone.id is not None else None
        for role in ROLE_ORDER:
            if role not in row.roles and role is not RoleKind.MEMBER:
                continue
            if org_id is not None and (org_id, someone.id, role) in roster.held:
                continue
            if someone.granted is None:
                someone.granted = set()
            elif role in someone.granted:
                continue
            someone.granted.add(role)
            found.append((someone, role))
    return found


@dataclass(slots=True)
class _Tally:
    """Counts the rows written and tells the progress listener."""

    progress: Progress | None
    total: int
    done: int = 0

    def add(self, count: int) -> None:
        """Adds `count` written rows."""
        self.done += count
        if self.progress is not None:
            self.progress(Phase.WRITE, self.done, self.total)


def _write(
    session: Session,
    *,
    plan: Plan,
    stored: dict[str, Organization],
    changes: dict[str, dict[str, Any]],
    roster: _Roster,
    grants: list[tuple[_Someone, RoleKind]],
    now: datetime,
    progress: Progress | None,
) -> None:
    """Writes the validated file: organizations, then members, then roles and their terms.

    Members, roles and terms go WRITE_BATCH rows at a time through `bulk_insert` (COPY on
    PostgreSQL, executemany on SQLite), without ORM objects.
    """
    changed_members = [
        someone
        for namesakes in roster.people.values()
        for someone in namesakes
        if someone.id is not None and someone.changed
    ]
    leading = [grant for grant in grants if grant[1] is not RoleKind.MEMBER]
    tally = _Tally(
        progress,
        total=len(plan.orgs)
        - sum(code in stored and code not in changes for code in plan.orgs)
        + len(roster.created)
        + len(changed_members)
        + len(grants)
        + len(leading),
    )
    ids = _write_orgs(session, plan=plan, stored=stored, changes=changes, now=now, tally=tally)
    _update_members(session, changed_members, now, tally)
    defaults = _defaults(
        Member(name="", organization_id=0, status=MemberStatus.FULL, created_at=now)
    )
    for batch in _batches(roster.created):
        rows = [
            {
                **defaults,
                "name": someone.name,
                "organization_id": ids[someone.org_code],
                "status": someone.status,
                "mobile": someone.mobile,
                "phone": someone.phone,
                "departed_at": None if someone.current else now,
            }
            for someone in batch
        ]
        new_ids = bulk_insert(session, Member, rows, ids=True)
        for someone, member_id in zip(batch, new_ids, strict=True):
            someone.id = member_id
        tally.add(len(batch))
    for grant_batch in _batches(grants):
        rows = [
            {"organization_id": ids[someone.org_code], "member_id": someone.id, "role": role}
            for someone, role in grant_batch
        ]
        bulk_insert(session, Role, rows)
        tally.add(len(grant_batch))
    for term_batch in _batches(leading):
        rows = [
            {
                "organization_id": ids[someone.org_code],
                "member_id": someone.id,
                "role": role,
                "started_on": now.date(),
                "ended_on": None,
            }
            for someone, role in term_batch
        ]
        bulk_insert(session, RoleTerm, rows)
        tally.add(len(term_batch))


def _write_orgs(
    session: Session,
    *,
    plan: Plan,
    stored: dict[str, Organization],
    changes: dict[str, dict[str, Any]],
    now: datetime,
    tally: _Tally,
) -> dict[str, int]:
    """Creates new organizations (parents first) and updates stored ones; returns ids by code."""
    ids: dict[str, int] = {code: org.id for code, org in stored.items() if org.id is not None}
    defaults = _defaults(Organization(code="", name="", kind=DEFAULT_ORG_KIND, created_at=now))
    pending = [entry for entry in plan.orgs.values() if entry.code not in stored]
    while pending:
        ready = [e for e in pending if e.parent_code is None or e.parent_code in ids]
        # Validation refused loops and unknown parents, so every round creates something.
        assert ready, "organization parents were not validated"
        for batch in _batches(ready):
            rows = []
            for entry in batch:
                assert entry.name is not None
                rows.append(
                    {
                        **defaults,
                        "code": entry.code,
                        "name": entry.name,
                        "kind": entry.kind or DEFAULT_ORG_KIND,
                        "parent_id": ids[entry.parent_code] if entry.parent_code else None,
                        **{column: value for column, (value, _row) in entry.settings.items()},
                    }
                )
            new_ids = bulk_insert(session, Organization, rows, ids=True)
            ids.update(zip((entry.code for entry in batch), new_ids, strict=True))
            tally.add(len(batch))
        pending = [entry for entry in pending if entry.code not in ids]
    for code, found in changes.items():
        org = stored[code]
        for name, value in found.items():
            if name == "parent_code":
                org.parent_id = ids[value]
            else:
                setattr(org, name, value)
    session.flush()
    tally.add(len(changes))
    return ids


def _update_members(
    session: Session, changed: list[_Someone], now: datetime, tally: _Tally
) -> None:
    """Writes the stored members the file changed, and forgets any loaded copies of them."""
    members = _table(Member)
    statement = (
        update(members)
        .where(members.c.id == bindparam("member_id"))
        .values(
            status=bindparam("new_status"),
            phone=bindparam("new_phone"),
            mobile=bindparam("new_mobile"),
            departed_at=bindparam("new_departed_at"),
        )
    )
    connection = session.connection()
    for batch in _batches(changed):
        rows = [
            {
                "member_id": someone.id,
                "new_status": someone.status,
                "new_phone": someone.phone,
                "new_mobile": someone.mobile,
                "new_departed_at": (None if someone.current else now)
                if someone.status_changed
                else someone.departed_at,
            }
            for someone in batch
        ]
        connection.execute(statement, rows)
        tally.add(len(batch))
    written = {someone.id for someone in changed}
    for loaded in list(session.identity_map.values()):
        if isinstance(loaded, Member) and loaded.id in written:
            session.expire(loaded)


T = TypeVar("T")


def _batches(items: Iterable[T]) -> Iterator[list[T]]:
    """Splits items into lists of WRITE_BATCH."""
    iterator = iter(items)
    while batch := list(islice(iterator, WRITE_BATCH)):
        yield batch


def _table(model: type[Any]) -> SqlTable:
    """Returns a model's table."""
    table: SqlTable = model.__table__
    return table


def _defaults(model: Any) -> dict[str, Any]:
    """Returns every column's value of an unsaved model (its defaults), without the id."""
    values: dict[str, Any] = model.model_dump(exclude={"id"})
    return values
