"""Photos as evidence: added to the report being written, or offered to the latest report."""

from __future__ import annotations

from enum import StrEnum

from bot.core.i18n import N_
from bot.core.records import MemberView
from bot.core.reply import Button
from bot.services.errors import ServiceError
from bot.texts.phrases import ACTIVITY_KINDS
from handlers.base import Context, Replies, Router
from handlers.report import router as report_router

router = Router("photos", title=N_("photos"))

HOW_TO_SEND = N_(
    "Send the photos themselves in this chat: while you write a report they are added to it,"
    " otherwise they are offered to your latest report."
)


class Step(StrEnum):
    """The photos flow's single step: attach to the latest report, or not."""

    ATTACH = "attach"


# Set in `Inbound.extra` by a channel that could not download a photo from its platform (the
# photo's place in `images` is then empty): the member is asked to send it again.
UNFETCHED = "photo_unfetched"

ATTACH, SKIP = "attach", "skip"
ATTACH_WORDS = frozenset({ATTACH, "附上", "添加", "是", "好", "yes", "确认"})
SKIP_WORDS = frozenset({SKIP, "不用", "不要", "否", "no"})


@router.command(
    "photo",
    keywords=("照片",),
    description=N_("Photos as evidence for a report"),
    menu=False,
)
def on_photos(ctx: Context, _args: str) -> Replies:
    """Adds photos to the report being written, else offers them to the member's latest report."""
    t = ctx.t
    member = _member(ctx)
    state = ctx.state
    if not ctx.inbound.images:
        # The command typed as text: photos come as pictures, not as words.
        return [ctx.reply(t(HOW_TO_SEND))]
    if state is not None and state.flow not in (report_router.flow, router.flow):
        raise ServiceError("photo_busy")
    in_report = state is not None and state.flow == report_router.flow
    if UNFETCHED in ctx.inbound.extra:
        note = ctx.reply(
            t("I could not fetch that photo from the chat platform. Please send it again.")
        )
        return [note, *_report_again(ctx)] if in_report else [note]
    # Refused before anything else is asked (a file that is no photo needs no report).
    checked = ctx.services.check_photos(ctx.inbound.images)
    if state is not None and in_report:
        photos = ctx.services.save_photos(member, checked)
        chosen: list[int] = list(ctx.data.get("photo_ids", []))
        chosen += [photo.id for photo in photos if photo.id not in chosen]
        state.data["photo_ids"] = chosen
        note = ctx.reply(
            t.plural(
                "{n} photo will be attached to this report. Carry on where you were.",
                "{n} photos will be attached to this report. Carry on where you were.",
                len(chosen),
            )
        )
        return [note, *_report_again(ctx)]
    latest = ctx.services.latest_report(member)
    if latest is None:
        raise ServiceError("photo_no_report")
    photos = ctx.services.save_photos(member, checked)
    waiting: list[int] = list(ctx.data.get("photo_ids", [])) if state is not None else []
    waiting += [photo.id for photo in photos if photo.id not in waiting]
    ctx.begin(router.flow, Step.ATTACH, photo_ids=waiting, activity_id=latest.id)
    question = t.plural(
        "Attach {n} photo to your latest report, No. {number}: {date} {kind} “{title}”?",
        "Attach {n} photos to your latest report, No. {number}: {date} {kind} “{title}”?",
        len(waiting),
        number=latest.id,
        date=t.date(latest.held_on, "medium"),
        kind=t(ACTIVITY_KINDS[latest.kind]),
        title=latest.title,
    )
    buttons = [Button(t("Attach"), ATTACH), Button(t("Do not attach"), SKIP)]
    return [ctx.reply(question, buttons)]


@router.step(Step.ATTACH)
def on_attach(ctx: Context, text: str) -> Replies:
    """Attaches the waiting photos to the latest report, or forgets them."""
    t = ctx.t
    member = _member(ctx)
    word = text.strip().lower()
    photo_ids = [int(photo_id) for photo_id in ctx.data.get("photo_ids", [])]
    if word in ATTACH_WORDS:
        activity_id = int(ctx.data["activity_id"])
        count = ctx.services.attach_photos(member, photo_ids, activity_id)
        ctx.end()
        return [
            ctx.reply(
                t.plural(
                    "Attached {n} photo to ledger entry No. {number}.",
                    "Attached {n} photos to ledger entry No. {number}.",
                    count,
                    number=activity_id,
                )
            )
        ]
    if word in SKIP_WORDS:
        ctx.services.discard_photos(member, photo_ids)
        ctx.end()
        return [ctx.reply(t("The photos were not kept."))]
    buttons = [Button(t("Attach"), ATTACH), Button(t("Do not attach"), SKIP)]
    return [ctx.reply(t("Please press Attach or Do not attach."), buttons)]


def _report_again(ctx: Context) -> Replies:
    """Asks the report's current step again, with its buttons, so the report carries on."""
    return report_router.on_back(ctx) if report_router.on_back else []


def _member(ctx: Context) -> MemberView:
    """Returns the member who sent the photos."""
    assert ctx.member is not None, "photos without a member"
    return ctx.member
