"""Demo data: the "江海红湾" alliance, its pairings, members and a year of history, from the seeds."""

from __future__ import annotations

from bot.demo.builder import (
    DemoInvite,
    DemoResult,
    build_demo,
    demo_counts,
    demo_invite,
    wipe_demo,
)
from bot.demo.seeds import ALLIANCE, COMMITTEE

__all__ = [
    "ALLIANCE",
    "COMMITTEE",
    "DemoInvite",
    "DemoResult",
    "build_demo",
    "demo_counts",
    "demo_invite",
    "wipe_demo",
]
