"""Bulk import of organizations, members and roles from a spreadsheet: all rows or none."""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol, TypeVar
from zipfile import BadZipFile

from sqlmodel import Session, col, select

from bot.core.domain import MemberStatus, OrgKind, RoleKind
from bot.core.i18n import N_
from bot.services.errors import ServiceError
from bot.services.members import grant_role
from bot.services.structure import check_setting
from storage.models import AuditEntry, Member, Organization

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
    return str(value).strip()


def parse_table(file_name: str, lines: Iterable[Sequence[object]]) -> Table:
    """Maps the first line's headers to columns and reads the rest as rows (blank rows skipped)."""
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
    rows: list[SourceRow] = []
    for number, line in enumerate(iterator, start=2):
        cells = {name: "" for name in COLUMNS}
        for index, name in positions.items():
            cells[name] = cell_text(line[index]) if index < len(line) else ""
        if any(cells.values()):
            rows.append(SourceRow(number, cells))
    return Table(rows, ignored)


def read_table(path: Path) -> Table:
    """Reads an .xlsx (first sheet) or .csv file (UTF-8, or GB18030 as Excel saves it in China)."""
    if path.suffix.lower() not in (".xlsx", ".csv"):
        raise ImportFileError(FILE_KIND, file=path.name)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ImportFileError(
            FILE_UNREADABLE, file=path.name, reason=error.strerror or error
        ) from None
    return table_of(path.name, data)


def table_of(file_name: str, data: bytes) -> Table:
    """Reads an uploaded .xlsx (first sheet) or .csv file's bytes; the name says which it is."""
    suffix = Path(file_name).suffix.lower()
    if suffix not in (".xlsx", ".csv"):
        raise ImportFileError(FILE_KIND, file=file_name)
    if suffix == ".csv":
        return parse_table(
            file_name, csv.reader(io.StringIO(csv_text(file_name, data), newline=""))
        )
    from openpyxl import load_workbook  # noqa: PLC0415 (only imports need the spreadsheet reader)

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (BadZipFile, KeyError, ValueError, OSError) as error:
        raise ImportFileError(
            FILE_UNREADABLE, file=file_name, reason=str(error) or "not an xlsx file"
        ) from None
    try:
        sheet = workbook.worksheets[0]
        return parse_table(file_name, sheet.iter_rows(values_only=True))
    finally:
        workbook.close()


def csv_text(file_name: str, data: bytes) -> str:
    """Decodes a .csv file: UTF-8 (with or without a BOM), else GB18030 as Excel saves it in China."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            return data.decode("gb18030")
        except UnicodeDecodeError:
            raise ImportFileError(
                FILE_UNREADABLE, file=file_name, reason="not UTF-8 or GB18030 text"
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
        key = (code, member_name, phone)
        for earlier in plan.members:
            if (earlier.org_code, earlier.name, earlier.phone) == key:
                errors.append(RowError(number, "member_name", R_DUPLICATE, {"row": earlier.row}))
                break
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


def _check_against_database(plan: Plan, stored: dict[str, Organization], session: Session) -> None:
    """Checks what depends on stored data: parents, new organizations' names, loops, namesakes."""
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
    stored_ids = [org.id for code, org in stored.items() if code in plan.orgs]
    members = session.exec(select(Member).where(col(Member.organization_id).in_(stored_ids))).all()
    namesakes: dict[tuple[int, str], list[Member]] = {}
    for member in members:
        namesakes.setdefault((member.organization_id, member.name), []).append(member)
    for row in plan.members:
        org = stored.get(row.org_code)
        if org is None or org.id is None:
            continue
        found = _matches(namesakes.get((org.id, row.name), []), row.phone)
        if len(found) > 1:
            plan.errors.append(RowError(row.row, "member_name", R_AMBIGUOUS, {"count": len(found)}))
    _check_branch_sizes(plan, stored, by_id, members)


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
    """A member as the import would leave them: enough to count and match them."""

    status: MemberStatus
    phone: str | None

    @property
    def current(self) -> bool:
        """Tells whether the member still belongs to the organization."""
        return self.status is not MemberStatus.DEPARTED


def _check_branch_sizes(
    plan: Plan,
    stored: dict[str, Organization],
    by_id: dict[int | None, str],
    members: Sequence[Member],
) -> None:
    """Refuses a file that leaves a branch or joint branch over MAX_BRANCH_MEMBERS members.

    It replays the member rows as `_apply_members` will apply them, on copies of the stored members.
    """
    people: dict[tuple[str, str], list[_Someone]] = {}
    before: Counter[str] = Counter()
    for member in members:
        code = by_id[member.organization_id]
        someone = _Someone(member.status, member.phone)
        people.setdefault((code, member.name), []).append(someone)
        before[code] += someone.current
    after = Counter(before)
    joining: dict[str, list[int]] = {}
    for row in plan.members:
        namesakes = people.setdefault((row.org_code, row.name), [])
        found = _matches(namesakes, row.phone)
        if found:
            someone, was_current = found[0], found[0].current
            someone.status = row.status or someone.status
            someone.phone = row.phone or someone.phone
        else:
            someone, was_current = _Someone(row.status or MemberStatus.FULL, row.phone), False
            namesakes.append(someone)
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


def validate(table: Table, session: Session) -> tuple[Plan, dict[str, Organization]]:
    """Checks every row against the rules and the stored data; returns the plan and known orgs."""
    plan = Plan()
    for row in table.rows:
        _validate_row(row, plan)
    stored = {org.code: org for org in session.exec(select(Organization)).all()}
    _check_against_database(plan, stored, session)
    plan.errors.sort(key=lambda error: (error.row, list(COLUMNS).index(error.column)))
    return plan, stored


# -- importing -----------------------------------------------------------------------------


def import_members(
    session: Session,
    table: Table,
    *,
    now: datetime,
    dry_run: bool,
    source: str = "",
    actor_id: int | None = None,
) -> ImportReport:
    """Validates every row and, when all are valid, imports them in the caller's transaction.

    A dry run (or any bad row) leaves the database as it was.
    """
    report = ImportReport(
        rows=len(table.rows), dry_run=dry_run, ignored_columns=table.ignored_columns
    )
    plan, stored = validate(table, session)
    report.errors = plan.errors
    if plan.errors:
        return report
    savepoint = session.begin_nested()
    try:
        orgs = _apply_orgs(session, plan, stored, now, report)
        _apply_members(session, plan, orgs, now, report)
        if not dry_run and report.changes:
            session.add(
                AuditEntry(
                    at=now,
                    actor_id=actor_id,
                    action="members.import",
                    subject=f"file:{source}"[:200],
                    detail=json.dumps(
                        {
                            "orgs_created": report.orgs_created,
                            "orgs_updated": report.orgs_updated,
                            "members_created": report.members_created,
                            "members_updated": report.members_updated,
                            "roles_added": report.roles_added,
                        }
                    ),
                )
            )
        session.flush()
    except BaseException:
        savepoint.rollback()
        raise
    if dry_run:
        savepoint.rollback()
    else:
        savepoint.commit()
    return report


def _apply_orgs(
    session: Session,
    plan: Plan,
    stored: dict[str, Organization],
    now: datetime,
    report: ImportReport,
) -> dict[str, Organization]:
    """Creates new organizations (parents first) and updates stored ones; returns all by code."""
    orgs = dict(stored)
    pending = [entry for entry in plan.orgs.values() if entry.code not in stored]
    while pending:
        ready = [e for e in pending if e.parent_code is None or e.parent_code in orgs]
        # Validation refused loops and unknown parents, so every round creates something.
        assert ready, "organization parents were not validated"
        for entry in ready:
            assert entry.name is not None
            parent = orgs[entry.parent_code] if entry.parent_code else None
            org = Organization(
                code=entry.code,
                name=entry.name,
                kind=entry.kind or DEFAULT_ORG_KIND,
                parent_id=parent.id if parent else None,
                created_at=now,
            )
            _apply_settings(org, entry)
            session.add(org)
            session.flush()
            orgs[entry.code] = org
            report.orgs_created += 1
        pending = [e for e in pending if e.code not in orgs]
    for entry in plan.orgs.values():
        if entry.code not in stored:
            continue
        org = stored[entry.code]
        changed = False
        if entry.name is not None and org.name != entry.name:
            org.name, changed = entry.name, True
        if entry.kind is not None and org.kind is not entry.kind:
            org.kind, changed = entry.kind, True
        if entry.parent_code is not None:
            parent_id = orgs[entry.parent_code].id
            if org.parent_id != parent_id:
                org.parent_id, changed = parent_id, True
        changed = _apply_settings(org, entry) or changed
        if changed:
            session.add(org)
            report.orgs_updated += 1
    session.flush()
    return orgs


def _apply_settings(org: Organization, entry: OrgEntry) -> bool:
    """Sets the branch settings a file gives; returns whether any changed."""
    values = {column: value for column, (value, _) in entry.settings.items()}
    changed = False
    for column, value in values.items():
        if getattr(org, column) != value:
            setattr(org, column, value)
            changed = True
    return changed


def _apply_members(
    session: Session,
    plan: Plan,
    orgs: dict[str, Organization],
    now: datetime,
    report: ImportReport,
) -> None:
    """Creates or updates every member row and adds their roles."""
    for entry in plan.members:
        org = orgs[entry.org_code]
        assert org.id is not None
        candidates = list(
            session.exec(
                select(Member).where(Member.organization_id == org.id, Member.name == entry.name)
            ).all()
        )
        found = _matches(candidates, entry.phone)
        if found:
            member = found[0]
            if _update_member(member, entry, now):
                session.add(member)
                report.members_updated += 1
        else:
            status = entry.status or MemberStatus.FULL
            member = Member(
                name=entry.name,
                organization_id=org.id,
                status=status,
                mobile=bool(entry.mobile),
                phone=entry.phone,
                created_at=now,
                departed_at=now if status is MemberStatus.DEPARTED else None,
            )
            session.add(member)
            report.members_created += 1
        session.flush()
        assert member.id is not None
        for role in {*entry.roles, RoleKind.MEMBER}:
            if grant_role(session, org_id=org.id, member_id=member.id, role=role, on=now.date()):
                report.roles_added += 1


def _update_member(member: Member, entry: MemberEntry, now: datetime) -> bool:
    """Applies a row's filled cells to a stored member; returns whether anything changed."""
    changed = False
    if entry.status is not None and member.status is not entry.status:
        member.status = entry.status
        member.departed_at = now if entry.status is MemberStatus.DEPARTED else None
        changed = True
    if entry.phone is not None and member.phone != entry.phone:
        member.phone, changed = entry.phone, True
    if entry.mobile is not None and member.mobile != entry.mobile:
        member.mobile, changed = entry.mobile, True
    return changed
