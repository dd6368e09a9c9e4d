"""Every flow's router, in one explicit list (the order decides keyword ties)."""

from __future__ import annotations

from handlers import (
    attendance,
    bind,
    branch_settings,
    calendar,
    checkin,
    console,
    help,
    invite,
    language,
    leave,
    ledger,
    minutes,
    mobile,
    notice,
    photos,
    points,
    reminders,
    report,
    roster,
    schedule,
    status,
)
from handlers.base import Router

ROUTERS: list[Router] = [
    help.router,
    bind.router,
    checkin.router,
    attendance.router,
    language.router,
    roster.router,
    schedule.router,
    invite.router,
    report.router,
    leave.router,
    notice.router,
    reminders.router,
    mobile.router,
    calendar.router,
    console.router,
    points.router,
    status.router,
    ledger.router,
    minutes.router,
    photos.router,
    branch_settings.router,
]
