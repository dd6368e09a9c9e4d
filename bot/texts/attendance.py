"""Attendance wording shared by the chat's answer and the command line's tables."""

from __future__ import annotations

from typing import Protocol

from bot.calendar.quarters import Quarter
from bot.core.domain import AttendanceStatus
from bot.core.i18n import N_, Translator
from bot.texts.reminders import period_label

ATTENDANCE_STATUSES: dict[AttendanceStatus, str] = {
    AttendanceStatus.PRESENT: N_("present"),
    AttendanceStatus.LEAVE: N_("on leave"),
    AttendanceStatus.ABSENT: N_("absent"),
}


class Tally(Protocol):
    """Counts of a quarter's answers: a whole organization's, or one member's."""

    @property
    def present(self) -> int:
        """Sign-ins."""

    @property
    def leave(self) -> int:
        """Answers with leave."""

    @property
    def absent(self) -> int:
        """Neither signed in nor on leave."""

    @property
    def expected(self) -> int:
        """Those who should have come."""

    @property
    def rate(self) -> float:
        """Sign-ins over those expected."""


def quarter_ahead(t: Translator, quarter: Quarter) -> str:
    """Says a quarter has not begun."""
    return t("{quarter} has not started yet.", quarter=period_label(t, str(quarter)))


def attendance_heading(t: Translator, *, org: str, quarter: Quarter) -> str:
    """Names a quarter's attendance of an organization."""
    return t("Attendance of {org}, {quarter}", org=org, quarter=period_label(t, str(quarter)))


def no_meeting_yet(t: Translator, *, org: str, quarter: Quarter) -> str:
    """Says no meeting of the organization has taken place in the quarter yet."""
    return t(
        "No meeting of {org} has taken place in {quarter} yet.",
        org=org,
        quarter=period_label(t, str(quarter)),
    )


def totals_line(t: Translator, tally: Tally) -> str:
    """Sums up a quarter's attendance in one line."""
    return t(
        "In all: signed in {present} of {expected} ({rate}%), on leave {leave}, absent {absent}.",
        present=tally.present,
        expected=tally.expected,
        rate=round(tally.rate * 100),
        leave=tally.leave,
        absent=tally.absent,
    )
