"""Reporting an activity for the ledger: kind, day, partners, participants, summary, confirm."""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from enum import StrEnum

from bot.core.domain import ActivityKind
from bot.core.i18n import N_
from bot.core.records import MemberView, OrgView
from bot.core.reply import Button, Reply
from bot.texts.phrases import ACTIVITY_KINDS
from handlers.base import BACK, CANCEL, Context, Replies, Router
from handlers.dates import DateParseError, parse_day

router = Router("report", title=N_("activity report"))


class Step(StrEnum):
    """The report flow's steps, in order."""

    KIND = "kind"
    DATE = "date"
    PARTNERS = "partners"
    PARTICIPANTS = "participants"
    SUMMARY = "summary"
    CONFIRM = "confirm"


MIN_PARTICIPANTS, MAX_PARTICIPANTS = 1, 10_000
MIN_SUMMARY, MAX_SUMMARY = 5, 2000
EXCERPT = 60
# Unknown partner names quoted back at most, so a long message does not come back whole.
MAX_NAMED = 5

DONE, NONE, CONFIRM = "done", "none", "confirm"
# Partner buttons carry this prefix so that no organization code can pass for Done or None
# (a button's data arrives as if typed).
ORG = "org:"
DONE_WORDS = frozenset({DONE, "完成", "好了", "ok"})
NONE_WORDS = frozenset({NONE, "无", "没有", "不选"})
CONFIRM_WORDS = frozenset({CONFIRM, "确认", "确定", "提交", "yes", "是"})
SELECTED = "✓ "

_PARTNER_SEPARATORS = re.compile(r"[,，、;；\s]+")
_COUNT = re.compile(r"([0-9]{1,7}) ?(?:人|名|位|people|persons)?", re.ASCII)


@router.command("report", keywords=("汇报",), description=N_("Report an activity for the ledger"))
def start_report(ctx: Context, _args: str) -> Replies:
    """Starts a report and asks for the kind of activity; a report under way goes on instead."""
    if ctx.state is not None and ctx.state.flow == router.flow:
        # 汇报 with words after it, sent mid-report, must not drop the draft.
        return on_back(ctx)
    ctx.begin(router.flow, Step.KIND, partner_ids=[])
    return [_ask(ctx, Step.KIND)]


@router.back_handler
def on_back(ctx: Context) -> Replies:
    """Asks the question of the step the flow went back to."""
    assert ctx.state is not None
    return [_ask(ctx, Step(ctx.state.step))]


@router.step(Step.KIND)
def on_kind(ctx: Context, text: str) -> Replies:
    """Stores the chosen kind and asks for the day."""
    kind = _match_kind(ctx, text)
    if kind is None:
        return [_ask(ctx, Step.KIND, problem=ctx.t("Please choose one of the kinds below."))]
    ctx.goto(Step.DATE, kind=kind.value)
    return [_ask(ctx, Step.DATE)]


@router.step(Step.DATE)
def on_date(ctx: Context, text: str) -> Replies:
    """Stores the day of the activity and asks for the partners (skipped when there are none)."""
    t = ctx.t
    try:
        day = parse_day(text, today=ctx.today)
    except DateParseError:
        return [
            _ask(ctx, Step.DATE, problem=t("I could not read “{text}” as a date.", text=text[:40]))
        ]
    if day > ctx.today:
        problem = t(
            "{date} is in the future; report activities that already took place.",
            date=t.date(day, "long"),
        )
        return [_ask(ctx, Step.DATE, problem=problem)]
    note = t("Date: {date} ({weekday})", date=t.date(day, "long"), weekday=t.weekday(day))
    if not ctx.services.partners(_member(ctx)):
        ctx.goto(Step.PARTICIPANTS, held_on=day.isoformat(), partner_ids=[])
        note += "\n" + t("Your branch has no partner organizations, so none are recorded.")
        return [_ask(ctx, Step.PARTICIPANTS, note=note)]
    ctx.goto(Step.PARTNERS, held_on=day.isoformat())
    return [_ask(ctx, Step.PARTNERS, note=note)]


@router.step(Step.PARTNERS)
def on_partners(ctx: Context, text: str) -> Replies:
    """Toggles partners by button, code or name; Done or None moves on to the participants."""
    word = text.strip().lower()
    if word in DONE_WORDS:
        ctx.goto(Step.PARTICIPANTS)
        return [_ask(ctx, Step.PARTICIPANTS)]
    if word in NONE_WORDS:
        ctx.goto(Step.PARTICIPANTS, partner_ids=[])
        return [_ask(ctx, Step.PARTICIPANTS)]
    text = text.strip().removeprefix(ORG)
    partners = ctx.services.partners(_member(ctx))
    chosen, unknown = _match_partners(text, partners)
    if unknown:
        problem = ctx.t(
            "Not one of your partner organizations: {names}.", names=ctx.t.join(unknown[:MAX_NAMED])
        )
        return [_ask(ctx, Step.PARTNERS, problem=problem)]
    selected: list[int] = list(ctx.data.get("partner_ids", []))
    for org in chosen:
        if org.id in selected:
            selected.remove(org.id)
        else:
            selected.append(org.id)
    ctx.data["partner_ids"] = selected
    return [_ask(ctx, Step.PARTNERS)]


@router.step(Step.PARTICIPANTS)
def on_participants(ctx: Context, text: str) -> Replies:
    """Stores the number of participants and asks for the summary."""
    t = ctx.t
    match = _COUNT.fullmatch(unicodedata.normalize("NFKC", text).strip().lower())
    if match is None:
        problem = t("“{text}” is not a whole number.", text=text[:40])
        return [_ask(ctx, Step.PARTICIPANTS, problem=problem)]
    count = int(match[1])
    if not MIN_PARTICIPANTS <= count <= MAX_PARTICIPANTS:
        problem = t(
            "The number of participants must be between {min} and {max}.",
            min=MIN_PARTICIPANTS,
            max=MAX_PARTICIPANTS,
        )
        return [_ask(ctx, Step.PARTICIPANTS, problem=problem)]
    ctx.goto(Step.SUMMARY, participants=count)
    return [_ask(ctx, Step.SUMMARY)]


@router.step(Step.SUMMARY, private=True)
def on_summary(ctx: Context, text: str) -> Replies:
    """Stores the summary and shows the whole report for confirmation."""
    summary = text.strip()
    if not MIN_SUMMARY <= len(summary) <= MAX_SUMMARY:
        problem = ctx.t(
            "The summary must have {min} to {max} characters; yours has {count}.",
            min=MIN_SUMMARY,
            max=MAX_SUMMARY,
            count=len(summary),
        )
        return [_ask(ctx, Step.SUMMARY, problem=problem)]
    ctx.goto(Step.CONFIRM, summary=summary)
    return [_ask(ctx, Step.CONFIRM)]


@router.step(Step.CONFIRM)
def on_confirm(ctx: Context, text: str) -> Replies:
    """Stores the confirmed report in the ledger and says what was stored."""
    t = ctx.t
    missing = _first_missing(ctx.data)
    if missing is not None:
        ctx.goto(missing)
        return [_ask(ctx, missing)]
    if text.strip().lower() not in CONFIRM_WORDS:
        return [_ask(ctx, Step.CONFIRM, problem=t("Please press Confirm, Back or Cancel."))]
    data = ctx.data
    entry = ctx.services.record_activity(
        _member(ctx),
        kind=ActivityKind(data["kind"]),
        held_on=date.fromisoformat(data["held_on"]),
        participants=int(data["participants"]),
        summary=str(data["summary"]),
        partner_ids=[int(org_id) for org_id in data.get("partner_ids", [])],
    )
    photo_ids = [int(photo_id) for photo_id in data.get("photo_ids", [])]
    attached = ctx.services.attach_photos(_member(ctx), photo_ids, entry.id)
    ctx.end()
    excerpt = entry.summary if len(entry.summary) <= EXCERPT else entry.summary[:EXCERPT] + "…"
    lines = [
        t("Stored as ledger entry No. {number}.", number=entry.id),
        *_describe(
            ctx,
            kind=entry.kind,
            held_on=entry.held_on,
            partners=entry.partners,
            participants=entry.participants,
            summary=excerpt,
        ),
    ]
    if attached:
        lines.append(ctx.t("Photos: {count}", count=attached))
    return [ctx.reply("\n".join(lines))]


# -- questions ------------------------------------------------------------------------------


def _ask(ctx: Context, step: Step, *, problem: str = "", note: str = "") -> Reply:
    """Builds a step's question, after what was wrong with the last answer or a note."""
    t = ctx.t
    buttons: list[Button] = []
    if step is Step.KIND:
        text = t("Which kind of activity do you want to report?")
        buttons = [Button(t(label), kind.value) for kind, label in ACTIVITY_KINDS.items()]
        buttons += ctx.nav_buttons(back=False)
    elif step is Step.DATE:
        text = t(
            "On which day did it take place? Send a date such as 2026-11-20, yesterday or last Tuesday."
        )
        buttons = [Button(t("Today"), "today"), Button(t("Yesterday"), "yesterday")]
        buttons += ctx.nav_buttons()
    elif step is Step.PARTNERS:
        text, buttons = _partner_question(ctx)
    elif step is Step.PARTICIPANTS:
        # No buttons here: numbered-option channels would read a typed "1" or "2" as a button.
        text = t(
            "How many people took part? Send a whole number from {min} to {max}"
            " (back goes back, cancel stops).",
            min=MIN_PARTICIPANTS,
            max=MAX_PARTICIPANTS,
        )
    elif step is Step.SUMMARY:
        text = t(
            "Please write a short summary of the activity ({min} to {max} characters).",
            min=MIN_SUMMARY,
            max=MAX_SUMMARY,
        )
        buttons = ctx.nav_buttons()
    else:
        text, buttons = _confirm_question(ctx)
    text = "\n".join(part for part in (problem, note, text) if part)
    return ctx.reply(text, buttons)


def _partner_question(ctx: Context) -> tuple[str, list[Button]]:
    """Asks for the partners, showing which are selected, with a toggle button for each."""
    t = ctx.t
    partners = ctx.services.partners(_member(ctx))
    selected = set(ctx.data.get("partner_ids", []))
    names = [org.name for org in partners if org.id in selected]
    current = t.join(names) if names else t("none yet")
    text = t(
        "Which partner organizations took part? Press one to select it (again to remove it),"
        " or type its code or name; then press Done.\nSelected: {selected}",
        selected=current,
    )
    buttons = [
        Button(
            (SELECTED if org.id in selected else "")
            + t("{name} ({code})", name=org.name, code=org.code),
            ORG + org.code,
        )
        for org in partners
    ]
    buttons += [Button(t("Done"), DONE), Button(t("None"), NONE), *ctx.nav_buttons()]
    return text, buttons


def _confirm_question(ctx: Context) -> tuple[str, list[Button]]:
    """Shows the whole draft with Confirm, Back and Cancel."""
    t = ctx.t
    data = ctx.data
    selected = set(data.get("partner_ids", []))
    partners = [org for org in ctx.services.partners(_member(ctx)) if org.id in selected]
    lines = [
        t("Please check the report:"),
        *_describe(
            ctx,
            kind=ActivityKind(data["kind"]),
            held_on=date.fromisoformat(data["held_on"]),
            partners=partners,
            participants=int(data["participants"]),
            summary=str(data["summary"]),
        ),
        t("Photos: {count}", count=len(data.get("photo_ids", [])))
        + " "
        + t("(send photos now to add them)"),
    ]
    buttons = [Button(t("Confirm"), CONFIRM), Button(t("Back"), BACK), Button(t("Cancel"), CANCEL)]
    return "\n".join(lines), buttons


def _describe(
    ctx: Context,
    *,
    kind: ActivityKind,
    held_on: date,
    partners: list[OrgView],
    participants: int,
    summary: str,
) -> list[str]:
    """Lists a report's fields, one per line."""
    t = ctx.t
    names = t.join([org.name for org in partners]) if partners else t("none")
    return [
        t("Kind: {kind}", kind=t(ACTIVITY_KINDS[kind])),
        t("Date: {date} ({weekday})", date=t.date(held_on, "long"), weekday=t.weekday(held_on)),
        t("Partners: {names}", names=names),
        t("Participants: {count}", count=participants),
        t("Summary: {summary}", summary=summary),
    ]


# -- reading answers ------------------------------------------------------------------------


def _member(ctx: Context) -> MemberView:
    """Returns the reporting member (reports need a bound account)."""
    assert ctx.member is not None, "report without a member"
    return ctx.member


def _match_kind(ctx: Context, text: str) -> ActivityKind | None:
    """Finds the kind a button or typed label names, in either language."""
    word = text.strip().lower()
    for kind, label in ACTIVITY_KINDS.items():
        if word in (kind.value, label.lower(), ctx.t(label).lower()):
            return kind
    return None


def _match_partners(text: str, partners: list[OrgView]) -> tuple[list[OrgView], list[str]]:
    """Resolves a code, a name, or several separated by commas; returns matches and unknowns."""
    by_key: dict[str, OrgView] = {}
    for org in partners:
        by_key[org.code.lower()] = org
        by_key[org.name.lower()] = org
    whole = text.strip().lower()
    if whole in by_key:
        return [by_key[whole]], []
    chosen: list[OrgView] = []
    unknown: list[str] = []
    for token in _PARTNER_SEPARATORS.split(text.strip()):
        if not token:
            continue
        found = by_key.get(token.lower())
        if found is None:
            unknown.append(token[:40])
        elif found not in chosen:
            chosen.append(found)
    return chosen, unknown or ([] if chosen else [text.strip()[:40]])


def _first_missing(data: dict[str, object]) -> Step | None:
    """Returns the first step whose answer the draft lacks (None when it is complete)."""
    for key, step in (
        ("kind", Step.KIND),
        ("held_on", Step.DATE),
        ("participants", Step.PARTICIPANTS),
        ("summary", Step.SUMMARY),
    ):
        if key not in data:
            return step
    return None
