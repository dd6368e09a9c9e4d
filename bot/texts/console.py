"""The web console's wording: column heads of the overview and the states of a requirement."""

from __future__ import annotations

from bot.core.i18n import N_

# Keyed by the compliance requirement's value (the enum lives with the rules, above this layer).
REQUIREMENTS: dict[str, str] = {
    "org_life": N_("Organization-life days"),
    "ledger": N_("Ledger"),
    "joint_meeting": N_("Joint meeting"),
    "joint_meetings_year": N_("Joint meetings this year"),
    "theme_day": N_("Theme party day on duty"),
    "unit_ledgers": N_("Member units' ledgers"),
    "visits": N_("Visits (3 a year)"),
    "joint_activity": N_("Joint activity this quarter"),
    "joint_activities_year": N_("Joint activities this year"),
    "annual_plan": N_("Annual plan"),
    "year_summary": N_("Year-end summary"),
}
UNKNOWN_REQUIREMENT = N_("Other requirement")

STATES: dict[str, str] = {
    "done": N_("done"),
    "owed": N_("owed"),
    "missed": N_("missed"),
}

OUTBOX_STATES: dict[str, str] = {
    "pending": N_("waiting"),
    "sending": N_("sending"),
    "sent": N_("sent"),
    "failed": N_("failed, will retry"),
    "undeliverable": N_("undeliverable"),
    "dead": N_("given up"),
    "obsolete": N_("no longer owed"),
}

# A member's answer to a meeting as the console's roll call shows it.
ATTENDANCE_ANSWERS: dict[str, str] = {
    "present": N_("present"),
    "late": N_("late"),
    "leave": N_("on leave"),
    "absent": N_("absent"),
    "none": N_("no answer yet"),
}
# An organization's reminder settings (keyed by the setting's name in the rules' config).
REMINDER_SETTINGS: dict[str, str] = {
    "orglife_eve_time": N_("Org-life reminder the evening before, at"),
    "orglife_morning_time": N_("Org-life reminder on the morning, at"),
    "notice_time": N_("Other reminders, at"),
    "theme_lead_days": N_("Theme party day on duty: days ahead"),
    "ledger_window_days": N_("Quarterly ledger: reminders in the quarter's last days"),
    "ledger_every_days": N_("Quarterly ledger: every so many days"),
    "opinion_day": N_("Opinion solicitation: reminder from this day of the month"),
    "plan_start_day": N_("Annual plan: reminders from this day of January"),
    "summary_start_day": N_("Year-end summary: reminders from this day of December"),
    "lead_every_days": N_("Annual plan and summary: every so many days"),
    "mobile_every_days": N_("Mobile members' three reports: every so many days"),
}
SETTING_SOURCES: dict[str, str] = {
    "org": N_("set by this organization"),
    "alliance": N_("the alliance's"),
    "default": N_("the district's"),
    "built_in": N_("standard"),
}
