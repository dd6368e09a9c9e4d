"""Minutes (会议记录) of any meeting: pick it, then topic, host, recorder, content, resolutions."""

from __future__ import annotations

from enum import StrEnum

from bot.core.i18n import N_
from bot.core.records import MeetingView, MemberView
from bot.core.reply import Button, Reply
from bot.texts.phrases import MEETING_KINDS
from handlers.base import BACK, CANCEL, Context, Replies, Router
from handlers.ledger import no_links

router = Router("minutes", title=N_("minutes"))


class Step(StrEnum):
    """The minutes flow's steps, in order (EXPORT picks a meeting to export instead)."""

    MEETING = "meeting"
    TOPIC = "topic"
    HOST = "host"
    RECORDER = "recorder"
    CONTENT = "content"
    RESOLUTIONS = "resolutions"
    CONFIRM = "confirm"
    EXPORT = "export"


# Meeting buttons carry this prefix so that no typed text can pass for one.
MEETING = "meeting:"
KEEP, NONE, CONFIRM = "keep", "none", "confirm"
KEEP_WORDS = frozenset({KEEP, "保持", "不变", "同上"})
NONE_WORDS = frozenset({NONE, "无", "没有"})
CONFIRM_WORDS = frozenset({CONFIRM, "确认", "确定", "提交", "yes", "是"})
EXPORT_WORDS = frozenset({"导出", "export", "下载", "文档"})
MIN_CONTENT, MAX_CONTENT = 5, 5000
MAX_NAME, MAX_TOPIC, MAX_RESOLUTIONS = 100, 200, 5000
HAS_MINUTES = "✓ "


@router.command(
    "minutes",
    keywords=("会议记录",),
    description=N_("Write the minutes of a meeting, or send 会议记录 导出 for the document"),
    leads_only=True,
)
def start_minutes(ctx: Context, args: str) -> Replies:
    """Lists the branch's recent meetings to write (or export) minutes for."""
    t = ctx.t
    meetings = ctx.services.minutes_meetings(_member(ctx))
    if not meetings:
        return [ctx.reply(t("Your branch has held no meeting in the last two months."))]
    export = args.strip().lower() in EXPORT_WORDS
    ctx.begin(router.flow, Step.EXPORT if export else Step.MEETING)
    return [_ask(ctx, Step.EXPORT if export else Step.MEETING)]


@router.back_handler
def on_back(ctx: Context) -> Replies:
    """Asks the question of the step the flow went back to."""
    assert ctx.state is not None
    return [_ask(ctx, Step(ctx.state.step))]


@router.step(Step.MEETING)
def on_meeting(ctx: Context, text: str) -> Replies:
    """Stores the chosen meeting and asks for the topic."""
    meeting = _chosen(ctx, text)
    if meeting is None:
        return [_ask(ctx, Step.MEETING, problem=ctx.t("Please choose one of the meetings below."))]
    ctx.goto(Step.TOPIC, meeting_id=meeting.id, title=meeting.title)
    return [_ask(ctx, Step.TOPIC)]


@router.step(Step.EXPORT)
def on_export(ctx: Context, text: str) -> Replies:
    """Sends the chosen meeting's minutes as a Word document (or its link)."""
    meeting = _chosen(ctx, text)
    if meeting is None:
        return [_ask(ctx, Step.EXPORT, problem=ctx.t("Please choose one of the meetings below."))]
    ctx.end()
    return [minutes_file(ctx, meeting.id)]


@router.step(Step.TOPIC)
def on_topic(ctx: Context, text: str) -> Replies:
    """Stores the topic (the meeting's title when kept) and asks who chaired it."""
    topic = text.strip()
    if topic.lower() in KEEP_WORDS:
        topic = str(ctx.data.get("title") or "")
    if not topic or len(topic) > MAX_TOPIC:
        problem = ctx.t("The topic must have 1 to {max} characters.", max=MAX_TOPIC)
        return [_ask(ctx, Step.TOPIC, problem=problem)]
    ctx.goto(Step.HOST, topic=topic)
    return [_ask(ctx, Step.HOST)]


@router.step(Step.HOST)
def on_host(ctx: Context, text: str) -> Replies:
    """Stores who chaired the meeting and asks who took the minutes."""
    name = text.strip()
    if not name or len(name) > MAX_NAME:
        return [_ask(ctx, Step.HOST, problem=_name_problem(ctx))]
    ctx.goto(Step.RECORDER, host=name)
    return [_ask(ctx, Step.RECORDER)]


@router.step(Step.RECORDER)
def on_recorder(ctx: Context, text: str) -> Replies:
    """Stores who took the minutes and asks for the content."""
    name = text.strip()
    if not name or len(name) > MAX_NAME:
        return [_ask(ctx, Step.RECORDER, problem=_name_problem(ctx))]
    ctx.goto(Step.CONTENT, recorder=name)
    return [_ask(ctx, Step.CONTENT)]


@router.step(Step.CONTENT, private=True)
def on_content(ctx: Context, text: str) -> Replies:
    """Stores what was discussed and asks for the resolutions."""
    content = text.strip()
    if not MIN_CONTENT <= len(content) <= MAX_CONTENT:
        problem = ctx.t(
            "The content must have {min} to {max} characters; yours has {count}.",
            min=MIN_CONTENT,
            max=MAX_CONTENT,
            count=len(content),
        )
        return [_ask(ctx, Step.CONTENT, problem=problem)]
    ctx.goto(Step.RESOLUTIONS, content=content)
    return [_ask(ctx, Step.RESOLUTIONS)]


@router.step(Step.RESOLUTIONS, private=True)
def on_resolutions(ctx: Context, text: str) -> Replies:
    """Stores the resolutions (none allowed) and shows the minutes for confirmation."""
    resolutions = text.strip()
    if resolutions.lower() in NONE_WORDS:
        resolutions = ""
    if len(resolutions) > MAX_RESOLUTIONS:
        problem = ctx.t("The resolutions may have at most {max} characters.", max=MAX_RESOLUTIONS)
        return [_ask(ctx, Step.RESOLUTIONS, problem=problem)]
    ctx.goto(Step.CONFIRM, resolutions=resolutions)
    return [_ask(ctx, Step.CONFIRM)]


@router.step(Step.CONFIRM)
def on_confirm(ctx: Context, text: str) -> Replies:
    """Stores the minutes and hands over the document."""
    t = ctx.t
    if text.strip().lower() not in CONFIRM_WORDS:
        return [_ask(ctx, Step.CONFIRM, problem=t("Please press Confirm, Back or Cancel."))]
    data = ctx.data
    meeting_id = int(data["meeting_id"])
    ctx.services.record_minutes(
        _member(ctx),
        meeting_id=meeting_id,
        topic=str(data["topic"]),
        host=str(data["host"]),
        recorder=str(data["recorder"]),
        content=str(data["content"]),
        resolutions=str(data.get("resolutions", "")),
    )
    ctx.end()
    return [
        ctx.reply(t("The minutes are stored; the ledger's meetings sheet shows them.")),
        minutes_file(ctx, meeting_id),
    ]


def minutes_file(ctx: Context, meeting_id: int) -> Reply:
    """Hands over a meeting's minutes as .docx, or a single-use link where files cannot go."""
    t = ctx.t
    member = _member(ctx)
    if ctx.inbound.capabilities.files:
        document = ctx.services.minutes_document(member, meeting_id, t)
        return Reply(t("The minutes as a Word document."), document=document, private=True)
    url = ctx.services.minutes_link(member, meeting_id, locale=t.locale)
    if url is None:
        return ctx.reply(no_links(t))
    minutes = ctx.services.download_config.link_minutes
    text = t.plural(
        "Download the minutes as a Word document here. The link works once, within {n} minute:"
        " {url}",
        "Download the minutes as a Word document here. The link works once, within {n} minutes:"
        " {url}",
        minutes,
        url=url,
    )
    return Reply(text, private=True)


# -- questions ------------------------------------------------------------------------------


def _ask(ctx: Context, step: Step, *, problem: str = "") -> Reply:
    """Builds a step's question, after what was wrong with the last answer."""
    t = ctx.t
    me = _member(ctx).name
    buttons: list[Button] = []
    if step in (Step.MEETING, Step.EXPORT):
        meetings = ctx.services.minutes_meetings(_member(ctx))
        written = ctx.services.minutes_of([meeting.id for meeting in meetings])
        if step is Step.EXPORT:
            meetings = [meeting for meeting in meetings if meeting.id in written]
            text = t("The minutes of which meeting? (✓ marks meetings with minutes)")
        else:
            text = t("Which meeting are the minutes for? (✓ marks meetings that have minutes)")
        buttons = [
            Button(
                f"{HAS_MINUTES if meeting.id in written else ''}{_label(ctx, meeting)}",
                f"{MEETING}{meeting.id}",
            )
            for meeting in meetings
        ]
        if not buttons:
            text = t("No meeting has minutes yet. Send 会议记录 to write them.")
        buttons += ctx.nav_buttons(back=False)
    elif step is Step.TOPIC:
        title = str(ctx.data.get("title") or "")
        text = t("What was the topic of the meeting?")
        if title:
            buttons = [Button(title, KEEP)]
        buttons += ctx.nav_buttons()
    elif step is Step.HOST:
        text = t("Who chaired the meeting?")
        buttons = [Button(me, me), *ctx.nav_buttons()]
    elif step is Step.RECORDER:
        text = t("Who took the minutes?")
        buttons = [Button(me, me), *ctx.nav_buttons()]
    elif step is Step.CONTENT:
        text = t(
            "What was discussed? Write the content of the meeting ({min} to {max} characters).",
            min=MIN_CONTENT,
            max=MAX_CONTENT,
        )
        buttons = ctx.nav_buttons()
    elif step is Step.RESOLUTIONS:
        text = t("What did the meeting resolve? Send 无 if nothing.")
        buttons = [Button(t("None"), NONE), *ctx.nav_buttons()]
    else:
        data = ctx.data
        text = "\n".join(
            [
                t("Please check the minutes:"),
                t("Topic: {text}", text=data["topic"]),
                t("Chaired by: {name}", name=data["host"]),
                t("Recorder: {name}", name=data["recorder"]),
                t("Content: {text}", text=data["content"]),
                t("Resolutions: {text}", text=data.get("resolutions") or t("none")),
                t("Attendance is filled in from the roll call."),
            ]
        )
        buttons = [
            Button(t("Confirm"), CONFIRM),
            Button(t("Back"), BACK),
            Button(t("Cancel"), CANCEL),
        ]
    text = "\n".join(part for part in (problem, text) if part)
    return ctx.reply(text, buttons, per_row=1 if step in (Step.MEETING, Step.EXPORT) else 2)


def _label(ctx: Context, meeting: MeetingView) -> str:
    """Names a meeting on its button: day, kind and title."""
    t = ctx.t
    label = f"{t.date(meeting.held_on, 'medium')} {t(MEETING_KINDS[meeting.kind])}"
    return f"{label} {meeting.title}" if meeting.title else label


def _chosen(ctx: Context, text: str) -> MeetingView | None:
    """Finds the meeting a button (or its typed label) names among the branch's recent ones."""
    typed = text.strip().removeprefix(HAS_MINUTES)
    wanted = typed.removeprefix(MEETING) if typed.startswith(MEETING) else None
    for meeting in ctx.services.minutes_meetings(_member(ctx)):
        if wanted == str(meeting.id) or typed == _label(ctx, meeting):
            return meeting
    return None


def _name_problem(ctx: Context) -> str:
    """Says what a name must look like."""
    return ctx.t("Please send a name of 1 to {max} characters.", max=MAX_NAME)


def _member(ctx: Context) -> MemberView:
    """Returns the secretary writing the minutes."""
    assert ctx.member is not None, "minutes without a member"
    return ctx.member
