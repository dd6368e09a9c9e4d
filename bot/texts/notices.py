"""Wording of the notices members get when something changes: meetings, leave, branch notices."""

from __future__ import annotations

from bot.core.i18n import Translator
from bot.core.records import MeetingView
from bot.texts.phrases import describe_meeting


def meeting_scheduled(t: Translator, meeting: MeetingView) -> str:
    """Announces a newly scheduled meeting."""
    return t("New meeting on the calendar:\n{meeting}", meeting=describe_meeting(t, meeting))


def meeting_changed(t: Translator, meeting: MeetingView) -> str:
    """Announces a meeting's new day, time or venue."""
    return t(
        "A meeting has been changed. It is now:\n{meeting}", meeting=describe_meeting(t, meeting)
    )


def meeting_cancelled(t: Translator, meeting: MeetingView, reason: str) -> str:
    """Announces a cancelled meeting, with the secretary's reason when one was given."""
    text = t("This meeting has been cancelled:\n{meeting}", meeting=describe_meeting(t, meeting))
    return text + "\n" + t("Reason: {reason}", reason=reason) if reason else text


def leave_asked(t: Translator, name: str, meeting: MeetingView, reason: str) -> str:
    """Tells the secretary that a member asked leave."""
    return t(
        "{name} asked leave for:\n{meeting}\nReason: {reason}",
        name=name,
        meeting=describe_meeting(t, meeting),
        reason=reason,
    )


def leave_cancelled(t: Translator, name: str, meeting: MeetingView) -> str:
    """Tells the secretary that a member withdrew their leave and will attend."""
    return t(
        "{name} cancelled their leave and will attend:\n{meeting}",
        name=name,
        meeting=describe_meeting(t, meeting),
    )


def branch_notice(t: Translator, org: str, author: str, text: str) -> str:
    """Passes on a secretary's notice to the whole branch."""
    return t("Notice from {org} ({author}):\n{text}", org=org, author=author, text=text)
