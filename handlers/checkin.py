"""Check-in on the meeting day, and the secretary's side: the code and the roll call."""

from __future__ import annotations

import unicodedata

from bot.core.domain import MeetingKind
from bot.core.i18n import N_
from bot.texts.phrases import MEETING_KINDS, describe_meeting
from handlers.base import Context, Replies, Router
from handlers.schedule import read_kind

router = Router("checkin", title=N_("check-in"))

NO_CODE_WORDS = frozenset({"nocode", "免码", "无码"})


@router.command(
    "checkin", keywords=("签到码", "签到"), description=N_("Sign in to today's meeting")
)
def check_in(ctx: Context, args: str) -> Replies:
    """Signs the member in to today's meeting, with the code when one is required."""
    t = ctx.t
    assert ctx.member is not None
    # Full-width digits ("４１００４７") are the same code, not a wrong guess toward the lockout.
    code = "".join(unicodedata.normalize("NFKC", args).split()) or None
    if code is not None and not (code.isascii() and code.isdigit() and len(code) == 6):
        return [ctx.reply(t("A check-in code has 6 digits, e.g. /checkin 123456."))]
    result = ctx.services.check_in(ctx.member, code=code, channel=ctx.inbound.channel)
    kind = t(MEETING_KINDS[result.meeting.kind])
    if not result.new:
        return [
            ctx.reply(
                t("You already signed in at {time}; nothing changed.", time=t.time(result.at))
            )
        ]
    if result.late:
        return [
            ctx.reply(
                t(
                    "Signed in to {kind} of {org} at {time}, late (after the start).",
                    kind=kind,
                    org=result.meeting.org.name,
                    time=t.time(result.at),
                )
            )
        ]
    return [
        ctx.reply(
            t(
                "Signed in to {kind} of {org} at {time}. Thank you!",
                kind=kind,
                org=result.meeting.org.name,
                time=t.time(result.at),
            )
        )
    ]


@router.command(
    "opencheckin",
    keywords=("开启签到",),
    description=N_("Get today's check-in code"),
    leads_only=True,
)
def open_checkin(ctx: Context, args: str) -> Replies:
    """Opens check-in for a meeting the branch hosts today (of a kind, if named); gives its code."""
    t = ctx.t
    assert ctx.member is not None
    words = args.lower().split()
    code_required = not any(word in NO_CODE_WORDS for word in words)
    kinds = [kind for kind in map(read_kind, words) if kind is not None]
    unknown = [w for w in words if w not in NO_CODE_WORDS and read_kind(w) is None]
    if unknown:
        return [
            ctx.reply(
                t(
                    "Usage: /opencheckin [KIND] [nocode], e.g. /opencheckin lecture or /opencheckin nocode."
                    " The kind is needed only when the branch hosts several meetings today."
                )
            )
        ]
    kind: MeetingKind | None = kinds[0] if kinds else None
    meeting, code = ctx.services.open_checkin(ctx.member, code_required=code_required, kind=kind)
    header = describe_meeting(t, meeting)
    if not code_required:
        return [ctx.reply(t("Check-in is open without a code for:\n{meeting}", meeting=header))]
    return [
        ctx.reply(
            t(
                "Check-in is open for:\n{meeting}\nToday's code: {code}\nMembers send: /checkin {code}",
                meeting=header,
                code=code,
            ),
        )
    ]
