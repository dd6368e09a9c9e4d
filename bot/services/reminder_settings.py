"""An organization's own reminder times and lead days, over its alliance's and everyone's.

The scheduler reads the same rows (`reminder_setting`, scope `org:<id>`) when it plans pushes:
what is set here changes the next tick's plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from enum import StrEnum

from sqlmodel import Session, col, select

from bot.services.audit_trail import record_change
from bot.services.errors import ServiceError
from bot.services.obligations.facts import DEFAULT_SCOPE, ReminderConfig, parse_setting
from storage.models import AllianceUnit
from storage.reminders import (
    alliance_scope,
    clear_reminder_setting,
    org_scope,
    reminder_settings_in,
    set_reminder_setting,
)

# The settings an organization may set for itself: each one is read with the organization's
# scope by the rules. (The visit target is a rule of 000 §四, and the joint meeting's nudges
# belong to the alliance: both stay with the committee's command line.)
ORG_SETTINGS: tuple[str, ...] = (
    "orglife_eve_time",
    "orglife_morning_time",
    "notice_time",
    "theme_lead_days",
    "ledger_window_days",
    "ledger_every_days",
    "opinion_day",
    "plan_start_day",
    "summary_start_day",
    "lead_every_days",
    "mobile_every_days",
)
BUILT_IN = ReminderConfig()
# The error a bad value gets, with its bounds (those `parse_setting` applies).
DAY_BOUNDS: dict[str, tuple[int, int]] = {
    "ledger_window_days": (1, 31),
    "ledger_every_days": (1, 31),
    "opinion_day": (1, 28),
    "plan_start_day": (1, 31),
    "summary_start_day": (1, 31),
    "lead_every_days": (1, 31),
    "mobile_every_days": (1, 31),
}


class Source(StrEnum):
    """Where a setting's value comes from."""

    ORG = "org"
    ALLIANCE = "alliance"
    DEFAULT = "default"
    BUILT_IN = "built_in"


@dataclass(frozen=True, slots=True)
class SettingValue:
    """One reminder setting of an organization: the value in force and where it comes from."""

    name: str
    value: str
    source: Source
    inherited: str


def setting_text(value: object) -> str:
    """Writes a setting's value as it is typed and stored: 19:00, 7, 14,3."""
    if isinstance(value, time):
        return f"{value:%H:%M}"
    if isinstance(value, tuple):
        return ",".join(str(part) for part in value)
    return str(value)


def _alliance_of(session: Session, org_id: int) -> int | None:
    """Returns the alliance whose settings an organization inherits (the first it joined)."""
    return session.exec(
        select(AllianceUnit.alliance_id)
        .where(col(AllianceUnit.organization_id) == org_id)
        .order_by(col(AllianceUnit.alliance_id))
    ).first()


def _checked(name: str, value: str) -> str:
    """Parses a value for a setting the organization may set; returns it as stored."""
    if name not in ORG_SETTINGS:
        raise ServiceError("reminder_setting_unknown", value=name[:48])
    text = value.strip()[:64]
    try:
        return setting_text(parse_setting(name, text))
    except ValueError:
        if name.endswith("_time"):
            raise ServiceError("bad_time", value=text) from None
        if name == "theme_lead_days":
            raise ServiceError("bad_lead_days", value=text) from None
        low, high = DAY_BOUNDS[name]
        raise ServiceError("bad_day_count", value=text, low=low, high=high) from None


def org_reminder_settings(session: Session, *, org_id: int) -> list[SettingValue]:
    """Lists an organization's reminder settings: its own, else its alliance's or everyone's."""
    alliance = _alliance_of(session, org_id)
    chain = [(org_scope(org_id), Source.ORG)]
    if alliance is not None:
        chain.append((alliance_scope(alliance), Source.ALLIANCE))
    chain.append((DEFAULT_SCOPE, Source.DEFAULT))
    stored = reminder_settings_in(session=session, scopes=[scope for scope, _ in chain])
    values = []
    for name in ORG_SETTINGS:
        found: list[tuple[str, Source]] = []
        for scope, source in chain:
            text = stored[scope].get(name)
            if text is None:
                continue
            try:
                found.append((setting_text(parse_setting(name, text)), source))
            except ValueError:
                # The scheduler ignores a value it cannot read; so does this list.
                continue
        built_in = setting_text(getattr(BUILT_IN, name))
        value, source = found[0] if found else (built_in, Source.BUILT_IN)
        inherited = next((text for text, where in found if where is not Source.ORG), built_in)
        values.append(SettingValue(name, value, source, inherited))
    return values


def set_org_reminder_setting(
    session: Session, *, org_id: int, name: str, value: str, now: datetime, actor_id: int | None
) -> str:
    """Sets one of an organization's reminder settings, audited; returns the value stored."""
    stored = _checked(name, value)
    scope = org_scope(org_id)
    before = reminder_settings_in(session=session, scopes=[scope])[scope].get(name)
    set_reminder_setting(session=session, scope=scope, name=name, value=stored)
    record_change(
        session,
        now=now,
        actor_id=actor_id,
        action="reminder.set",
        subject=f"{scope}:{name}",
        before=before,
        after=stored,
    )
    return stored


def clear_org_reminder_setting(
    session: Session, *, org_id: int, name: str, now: datetime, actor_id: int | None
) -> bool:
    """Returns a setting to its alliance's or everyone's value, audited; False if it was not set."""
    if name not in ORG_SETTINGS:
        raise ServiceError("reminder_setting_unknown", value=name[:48])
    scope = org_scope(org_id)
    before = clear_reminder_setting(session=session, scope=scope, name=name)
    if before is None:
        return False
    record_change(
        session,
        now=now,
        actor_id=actor_id,
        action="reminder.clear",
        subject=f"{scope}:{name}",
        before=before,
        after=None,
    )
    return True
