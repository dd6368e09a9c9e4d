"""The wording of pushes and of the /pending list, in the recipient's language."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime

from bot.calendar.quarters import Quarter
from bot.core.i18n import N_, Translator
from bot.services.obligations.rules import Obligation, Push, Rule
from bot.texts.phrases import HOLIDAYS

# The three reports as 004 words them: to the party organization where the member lives, and
# their identity to the one at their workplace.
REPORTS: dict[str, str] = {
    "whereabouts": N_(
        "on leaving, tell the party organization where you live where you are going (报告去向)"
    ),
    "arrival": N_("after arriving, report to the party organization where you now live (报告情况)"),
    "workplace": N_("report your identity to the party organization of your workplace (报告身份)"),
}


# One message per quarter, so that Chinese prose reads 第四季度 rather than 第4季度.
QUARTERS: dict[int, str] = {
    1: N_("Q1 {year}"),
    2: N_("Q2 {year}"),
    3: N_("Q3 {year}"),
    4: N_("Q4 {year}"),
}


def quarter_label(t: Translator, quarter: Quarter) -> str:
    """Names a quarter in prose: "Q4 2026", "2026年第四季度"."""
    return t(QUARTERS[quarter.number], year=quarter.year)


def period_label(t: Translator, key: str) -> str:
    """Names a period key: `2026-12` as a month, `2026Q4` as a quarter, `2026` as a year."""
    if "Q" in key:
        return quarter_label(t, Quarter.parse(key))
    year, _, month = key.partition("-")
    if month:
        return t("{month}/{year}", month=int(month), year=int(year))
    return year


def _date(values: Mapping[str, object], name: str) -> date:
    """Reads a date value."""
    value = values[name]
    assert isinstance(value, date)
    return value


def _text(values: Mapping[str, object], name: str) -> str:
    """Reads a value as text."""
    value = values.get(name)
    return "" if value is None else str(value)


def _number(values: Mapping[str, object], name: str) -> int:
    """Reads a whole-number value."""
    value = values[name]
    assert isinstance(value, int)
    return value


def move_note(t: Translator, values: Mapping[str, object]) -> str:
    """Explains why an org-life day is not on its rule's date (or an empty string)."""
    reason = values.get("move_reason")
    moved_from = values.get("moved_from")
    holiday = t(HOLIDAYS.get(_text(values, "holiday") or "other", HOLIDAYS["other"]))
    if reason == "moved_for_holiday" and isinstance(moved_from, date):
        return t(
            "Moved from {date} because of {holiday}.",
            date=t.date(moved_from, "medium"),
            holiday=holiday,
        )
    if reason == "kept_on_holiday":
        return t("Kept on this day although it falls in {holiday}.", holiday=holiday)
    if reason == "calendar_unknown":
        held_on = _date(values, "held_on")
        return t("The official holiday calendar for {year} is not known yet.", year=held_on.year)
    if reason == "moved_by_secretary" and isinstance(moved_from, date):
        return t("Moved by the secretary from {date}.", date=t.date(moved_from, "medium"))
    return ""


def render_push(t: Translator, push: Push) -> str:
    """Writes the message of one push."""
    values = push.values
    rule = push.rule
    if rule is Rule.ORGLIFE:
        return _orglife(t, push)
    if rule is Rule.THEME_DUTY:
        first_day = _date(values, "first_day")
        # Values are worked out before the call: Babel drops a plural whose call passes `t` on.
        fields = {
            "org": _text(values, "org"),
            "alliance": _text(values, "alliance"),
            "period": period_label(t, _text(values, "period")),
            "date": t.date(first_day, "long"),
        }
        return t.plural(
            "{org} is on duty for the theme party day of {alliance} in {period}, which starts"
            " on {date}, in {n} day. As secretary or liaison officer, please plan it, convene"
            " it and take attendance.",
            "{org} is on duty for the theme party day of {alliance} in {period}, which starts"
            " on {date}, in {n} days. As secretary or liaison officer, please plan it, convene"
            " it and take attendance.",
            (first_day - push.today).days,
            **fields,
        )
    if rule is Rule.JOINT_MEETING:
        left = (_date(values, "last_day") - push.today).days + 1
        fields = {
            "alliance": _text(values, "alliance"),
            "quarter": period_label(t, _text(values, "quarter")),
            "org": _text(values, "org"),
        }
        return t.plural(
            "No joint meeting of {alliance} is recorded for {quarter} yet, and {org} convenes"
            " it this quarter. {n} day is left: please hold it and record it.",
            "No joint meeting of {alliance} is recorded for {quarter} yet, and {org} convenes"
            " it this quarter. {n} days are left: please hold it and record it.",
            left,
            **fields,
        )
    if rule is Rule.LEDGER:
        due = _date(values, "due")
        fields = {
            "quarter": period_label(t, _text(values, "quarter")),
            "org": _text(values, "org"),
            "date": t.date(due, "long"),
        }
        return t.plural(
            "The {quarter} activity ledger (台账) of {org} is due to the committee by {date},"
            " in {n} day. Export it, or mark it submitted with /submitted.",
            "The {quarter} activity ledger (台账) of {org} is due to the committee by {date},"
            " in {n} days. Export it, or mark it submitted with /submitted.",
            (due - push.today).days + 1,
            **fields,
        )
    return _nudge(t, rule, values)


def _orglife(t: Translator, push: Push) -> str:
    """Writes the evening-before or morning-of reminder of an org-life day."""
    values = push.values
    held_on = _date(values, "held_on")
    starts = values["starts_at"]
    assert isinstance(starts, datetime)
    fields = {
        "org": _text(values, "org"),
        "date": t.date(held_on, "long"),
        "weekday": t.weekday(held_on),
        "time": t.time(starts),
    }
    if push.tag == "eve":
        text = t(
            "Reminder: tomorrow, {weekday} {date}, is the organization-life day of {org},"
            " starting at {time}.",
            **fields,
        )
    else:
        text = t(
            "Today, {weekday} {date}, is the organization-life day of {org}, starting at"
            " {time}. Sign in there with /checkin and the code the secretary gives.",
            **fields,
        )
    lines = [text]
    if _text(values, "venue"):
        lines.append(t("Venue: {venue}", venue=_text(values, "venue")))
    note = move_note(t, values)
    if note:
        lines.append(note)
    return "\n".join(lines)


def _nudge(t: Translator, rule: Rule, values: Mapping[str, object]) -> str:
    """Writes the nudges whose wording does not depend on the day."""
    if rule is Rule.PAIRING_VISITS and _text(values, "partner"):
        return t(
            "The pairing {pairing} has made {done} of its {target} visits (走亲串门) with"
            " {partner} this year; by now it should have made {expected}. Please arrange the next"
            " visit with {partner} and record it.",
            pairing=_text(values, "pairing"),
            partner=_text(values, "partner"),
            done=_number(values, "done"),
            target=_number(values, "target"),
            expected=_number(values, "expected"),
        )
    if rule is Rule.PAIRING_VISITS:
        return t(
            "The pairing {pairing} has made {done} of its {target} visits (走亲串门) this year;"
            " by now it should have made {expected}. Please arrange the next visit and record it.",
            pairing=_text(values, "pairing"),
            done=_number(values, "done"),
            target=_number(values, "target"),
            expected=_number(values, "expected"),
        )
    if rule is Rule.PAIRING_QUIET:
        return t(
            "The pairing {pairing} has no joint activity recorded for {quarter}, and the quarter"
            " is half gone. Please hold one and record it.",
            pairing=_text(values, "pairing"),
            quarter=period_label(t, _text(values, "quarter")),
        )
    if rule is Rule.ANNUAL_PLAN:
        return t(
            "Please draw up the {year} annual work plan of {group} and mark it done with"
            " /submitted plan.",
            year=_number(values, "year"),
            group=_text(values, "group"),
        )
    if rule is Rule.YEAR_SUMMARY:
        return t(
            "Please prepare the {year} year-end summary of {group} and mark it done with"
            " /submitted summary.",
            year=_number(values, "year"),
            group=_text(values, "group"),
        )
    if rule is Rule.OPINION:
        month = _date(values, "month")
        return t(
            "{org} has no opinion solicitation recorded for {month} yet. Please hold one and"
            " report it with /report.",
            org=_text(values, "org"),
            month=t("{month}/{year}", month=month.month, year=month.year),
        )
    return t(
        "As a mobile party member you still owe these of the three reports (三报告): {reports}."
        " Once you have made one, record it with 流动报告 去向|报到|单位.",
        reports=_reports(t, values),
    )


def _reports(t: Translator, values: Mapping[str, object]) -> str:
    """Lists the three reports still owed, in the reader's language."""
    owed = values.get("reports", ())
    assert isinstance(owed, tuple)
    return t("; ").join(t(REPORTS[str(report)]) for report in owed)


def render_pending(t: Translator, obligation: Obligation) -> str:
    """Writes one line of the /pending list."""
    values = obligation.values
    rule = obligation.rule
    if rule is Rule.THEME_DUTY:
        return t(
            "Theme party day of {alliance} in {period}: {org} is on duty.",
            alliance=_text(values, "alliance"),
            period=period_label(t, _text(values, "period")),
            org=_text(values, "org"),
        )
    if rule is Rule.JOINT_MEETING:
        return t(
            "Joint meeting of {alliance} for {quarter}: not recorded yet ({org} convenes).",
            alliance=_text(values, "alliance"),
            quarter=period_label(t, _text(values, "quarter")),
            org=_text(values, "org"),
        )
    if rule is Rule.PAIRING_VISITS and _text(values, "partner"):
        return t(
            "Visits of {pairing} with {partner}: {done} of {target} this year, {expected}"
            " expected by now.",
            pairing=_text(values, "pairing"),
            partner=_text(values, "partner"),
            done=_number(values, "done"),
            target=_number(values, "target"),
            expected=_number(values, "expected"),
        )
    if rule is Rule.PAIRING_VISITS:
        return t(
            "Visits of {pairing}: {done} of {target} this year, {expected} expected by now.",
            pairing=_text(values, "pairing"),
            done=_number(values, "done"),
            target=_number(values, "target"),
            expected=_number(values, "expected"),
        )
    if rule is Rule.PAIRING_QUIET:
        return t(
            "Joint activity of {pairing} for {quarter}: none recorded yet.",
            pairing=_text(values, "pairing"),
            quarter=period_label(t, _text(values, "quarter")),
        )
    if rule is Rule.LEDGER:
        return t(
            "Ledger of {org} for {quarter}: not exported or submitted yet (due {date}).",
            org=_text(values, "org"),
            quarter=period_label(t, _text(values, "quarter")),
            date=t.date(_date(values, "due"), "medium"),
        )
    if rule is Rule.ANNUAL_PLAN:
        return t(
            "Annual work plan {year} of {group}: not filed yet.",
            year=_number(values, "year"),
            group=_text(values, "group"),
        )
    if rule is Rule.YEAR_SUMMARY:
        return t(
            "Year-end summary {year} of {group}: not filed yet.",
            year=_number(values, "year"),
            group=_text(values, "group"),
        )
    if rule is Rule.OPINION:
        month = _date(values, "month")
        return t(
            "Opinion solicitation of {org} for {month}: none recorded yet.",
            org=_text(values, "org"),
            month=t("{month}/{year}", month=month.month, year=month.year),
        )
    if rule is Rule.MOBILE:
        return t(
            "{member} (mobile member) still owes: {reports}.",
            member=_text(values, "member"),
            reports=_reports(t, values),
        )
    return t(
        "Organization-life day of {org} on {date}.",
        org=_text(values, "org"),
        date=t.date(_date(values, "held_on"), "medium"),
    )


def render_orglife_moved(
    t: Translator,
    *,
    org: str,
    old_day: date,
    new_day: date,
    starts_at: datetime,
    holiday: str | None,
) -> str:
    """Tells members their organization-life day moved because of newly known holidays."""
    return t(
        "The organization-life day of {org} has moved from {old} to {new}, {time}, because"
        " {old} falls in {holiday}.",
        org=org,
        old=t.date(old_day, "medium"),
        new=t.date(new_day, "long"),
        time=t.time(starts_at),
        holiday=t(HOLIDAYS.get(holiday or "other", HOLIDAYS["other"])),
    )


def holiday_data_warning(t: Translator, years: Sequence[int]) -> str:
    """Warns that the coming months lie past the holiday data (or an empty string)."""
    if not years:
        return ""
    return t(
        "The official holiday calendar for {years} is not known yet, and the next three months"
        " reach into it: org-life days there cannot be moved for holidays. Ask the operator to"
        " add a holiday file (GONGJIAN_HOLIDAYS_FILE) or update the software.",
        years=t.join([str(year) for year in years]),
    )
