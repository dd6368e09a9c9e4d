"""The district import template: one sheet per part, Chinese headers, an example row, drop-downs, notes.

Its headers are the ones `bot.services.importer` and `bot.services.district` read, so a filled-in
template imports as it is (`gongjian import district`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

from bot.core.i18n import N_, Translator
from bot.services.district import (
    ALLIANCE_COLUMNS,
    ALLIANCE_SHEET,
    MEMBER_SHEET,
    NOTES_SHEET,
    PAIRING_COLUMNS,
    PAIRING_SHEET,
)
from bot.services.importer import COLUMNS

if TYPE_CHECKING:
    from openpyxl.cell.cell import Cell
    from openpyxl.worksheet.worksheet import Worksheet

# Rows that drop-down lists cover (the example row and what operators add below it).
LAST_ROW = 1000
# Header cells: white bold text on red.
HEADER_COLOR = "C00000"
HEADER_TEXT_COLOR = "FFFFFF"


@dataclass(frozen=True, slots=True)
class Column:
    """One template column: its header, example value, note, and drop-down choices if any."""

    header: str
    example: str
    note: str
    choices: tuple[str, ...] = ()
    required: bool = False


MEMBER_TEMPLATE: dict[str, Column] = {
    "org_code": Column(
        "组织代码",
        "ZB01",
        N_(
            "The organization's code: letters, digits, - or _ (at most 32). One row per member;"
            " an organization's first row may leave the member columns empty."
        ),
        required=True,
    ),
    "org_name": Column(
        "组织名称", "第一党支部", N_("Required the first time an organization appears.")
    ),
    "org_kind": Column(
        "组织类型",
        "党支部",
        N_("党委/党工委, 党总支, 党支部 or 联合党支部; empty means 党支部."),
        ("党委", "党工委", "党总支", "党支部", "联合党支部"),
    ),
    "parent_code": Column(
        "上级组织代码", "DGW", N_("The code of the organization above it (in this file or stored).")
    ),
    "member_name": Column("姓名", "张三", N_("The member's name.")),
    "roles": Column(
        "职务/身份",
        "书记",
        N_(
            "书记, 副书记, 委员, 联络员 or 党员; several separated by 、 (e.g. 委员、联络员)."
            " Each pairing or alliance side names one 联络员."
        ),
        ("书记", "副书记", "委员", "联络员", "党员"),
    ),
    "status": Column(
        "党员状态",
        "正式党员",
        N_("正式党员, 预备党员 or 已转出; empty means 正式党员."),
        ("正式党员", "预备党员", "已转出"),
    ),
    "phone": Column("手机号", "13800000000", N_("Optional; tells namesakes apart.")),
    "mobile": Column(
        "流动党员", "否", N_("是 or 否: a mobile member owes the three reports."), ("是", "否")
    ),
    "orglife_time": Column(
        "组织生活时间", "09:00", N_("The organization-life day's time, like 14:30 (first Tuesday).")
    ),
    "orglife_venue": Column(
        "组织生活地点", "党群服务中心", N_("Where the organization-life day is held.")
    ),
    "holiday_policy": Column(
        "节假日处理",
        "顺延",
        N_(
            "When the first Tuesday is a statutory holiday: 照常 (keep it) or 顺延 (next working day)."
        ),
        ("照常", "顺延"),
    ),
}
PAIRING_TEMPLATE: dict[str, Column] = {
    "code": Column("结对代码", "JD-2026-01", N_("The pairing's code."), required=True),
    "name": Column("结对名称", "政企联建结对", N_("The pairing's name."), required=True),
    "form": Column(
        "结对形式",
        "一对多",
        N_(
            "一对一, 多对一 or 一对多 (000 §四); empty: 一对一 for one partner, 一对多 for several."
        ),
        ("一对一", "多对一", "一对多"),
    ),
    "lead": Column("牵头单位代码", "ZB01", N_("The lead organization (牵头)."), required=True),
    "partners": Column(
        "共建单位代码",
        "ZB02、ZB03",
        N_(
            "The partner organizations, separated by 、; a 一对多 pairing counts visits per partner."
        ),
        required=True,
    ),
    "start": Column(
        "协议开始日期", "2026-05-01", N_("The agreement's first day (共建协议)."), required=True
    ),
    "end": Column("协议结束日期", "2027-04-30", N_("The agreement's last day; empty: open-ended.")),
    "visits": Column("每年走访次数", "3", N_("Visits (走亲串门) a year; at least 3.")),
    "goals": Column("共建目标", "资源共享、优势互补", N_("The agreement's goals.")),
}
ALLIANCE_TEMPLATE: dict[str, Column] = {
    "code": Column("联盟代码", "JHHW", N_("The alliance's code."), required=True),
    "name": Column("联盟名称", "江海红湾党建联盟", N_("The alliance's name."), required=True),
    "presidents": Column(
        "会长单位代码",
        "ZB01、ZB02、ZB03、ZB04、ZB05",
        N_(
            "5 to 7 president units (001 §3), in the order the executive term passes:"
            " the first is the executive president unit first."
        ),
        required=True,
    ),
    "members": Column("会员单位代码", "ZB06、ZB07", N_("The member units, separated by 、.")),
    "start": Column(
        "轮值开始日期", "2026-01-01", N_("The first month of the rotations."), required=True
    ),
    "term": Column(
        "执行会长单位任期（月）", "12", N_("Months each executive president unit serves.")
    ),
    "period": Column(
        "主题党日轮值周期",
        "每月",
        N_("Theme party day on duty per month or per quarter."),
        ("每月", "每季度"),
    ),
    "convener": Column(
        "联席会议召集人",
        "执行会长单位",
        N_(
            "Who convenes the quarterly joint meeting: the executive president unit (001) or"
            " the president units in turn."
        ),
        ("执行会长单位", "轮流"),
    ),
    "theme_order": Column(
        "主题党日轮值顺序",
        "",
        N_("Every unit once, separated by 、; empty: president units, then member units."),
    ),
}
assert set(MEMBER_TEMPLATE) == set(COLUMNS)
assert all(MEMBER_TEMPLATE[name].header in COLUMNS[name] for name in COLUMNS)
assert all(PAIRING_TEMPLATE[name].header == PAIRING_COLUMNS[name][0] for name in PAIRING_COLUMNS)
assert all(ALLIANCE_TEMPLATE[name].header == ALLIANCE_COLUMNS[name][0] for name in ALLIANCE_COLUMNS)
SHEETS: tuple[tuple[str, dict[str, Column]], ...] = (
    (MEMBER_SHEET, MEMBER_TEMPLATE),
    (PAIRING_SHEET, PAIRING_TEMPLATE),
    (ALLIANCE_SHEET, ALLIANCE_TEMPLATE),
)


def _header(cell: Cell) -> None:
    """Paints a header cell."""
    from openpyxl.styles import Font, PatternFill  # noqa: PLC0415 (as write_template)

    cell.fill = PatternFill("solid", fgColor=HEADER_COLOR)
    cell.font = Font(bold=True, color=HEADER_TEXT_COLOR)


def _data_sheet(sheet: Worksheet, columns: dict[str, Column]) -> None:
    """Writes a sheet's header, example row and drop-down lists."""
    from openpyxl.utils import get_column_letter  # noqa: PLC0415 (as write_template)
    from openpyxl.worksheet.datavalidation import DataValidation  # noqa: PLC0415

    for index, column in enumerate(columns.values(), start=1):
        letter = get_column_letter(index)
        _header(sheet.cell(row=1, column=index, value=column.header))
        sheet.cell(row=2, column=index, value=column.example or None)
        sheet.column_dimensions[letter].width = max(12, 2 * len(column.header) + 4)
        if column.choices:
            # A warning, not a stop: several roles in one cell (委员、联络员) are valid too.
            validation = DataValidation(
                type="list",
                formula1='"' + ",".join(column.choices) + '"',
                allow_blank=True,
                errorStyle="warning",
            )
            sheet.add_data_validation(validation)
            validation.add(f"{letter}2:{letter}{LAST_ROW}")
    sheet.freeze_panes = "A2"


def write_template(stream: BinaryIO, t: Translator) -> None:
    """Writes the district import template as an .xlsx workbook to `stream`."""
    # openpyxl loads when a template is written: the templates' columns are read by processes
    # (the command line's help, `gongjian run`) that never write one.
    from openpyxl import Workbook  # noqa: PLC0415
    from openpyxl.styles import Alignment  # noqa: PLC0415

    book = Workbook()
    first = book.active
    assert first is not None
    first.title = MEMBER_SHEET
    _data_sheet(first, MEMBER_TEMPLATE)
    for title, columns in SHEETS[1:]:
        _data_sheet(book.create_sheet(title), columns)
    notes = book.create_sheet(NOTES_SHEET)
    notes.append([t("Sheet"), t("Column"), t("Required"), t("Meaning")])
    for cell in notes[1]:
        _header(cell)
    notes.append(
        [
            "",
            "",
            "",
            t(
                "Replace the example rows with your own, one organization or member per row."
                " Import with: gongjian import district FILE --dry-run, then without --dry-run."
                " A file with any bad row imports nothing and lists every bad cell."
            ),
        ]
    )
    for title, columns in SHEETS:
        for column in columns.values():
            notes.append(
                [title, column.header, t("yes") if column.required else "", t(column.note)]
            )
    for letter, width in zip("ABCD", (12, 24, 8, 100), strict=True):
        notes.column_dimensions[letter].width = width
    for row in notes.iter_rows(min_row=2):
        row[3].alignment = Alignment(wrap_text=True, vertical="top")
    book.save(stream)
