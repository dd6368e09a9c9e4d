"""Turns a service's refusal into a clear, translated sentence."""

from __future__ import annotations

from datetime import datetime

from bot.core.i18n import N_, Translator
from bot.services.errors import ServiceError

MESSAGES: dict[str, str] = {
    "import_conflict": N_(
        "The database refused a row while the file was being written ({reason}): another change"
        " got there first. Nothing was imported; run the import again."
    ),
    "already_bound": N_("This chat account is already bound to a member."),
    "already_named": N_("Your name is already on record; ask your secretary to change it."),
    "invite_unknown": N_("That invite code does not exist. Check it and try again."),
    "invite_used": N_("That invite code has already been used. Ask your secretary for a new one."),
    "invite_expired": N_("That invite code has expired. Ask your secretary for a new one."),
    "not_allowed": N_("Only the branch secretary or deputy secretary can do that."),
    "console_not_allowed": N_(
        "The web console is for secretaries, deputy secretaries, committee members and"
        " liaison officers."
    ),
    "not_bound": N_("That chat account is bound to no member. Bind it first: 绑定 CODE."),
    "console_throttled": N_("Too many failed sign-ins. Please wait 15 minutes and try again."),
    "console_weak_password": N_("The password must be at least 12 characters long."),
    "console_login_taken": N_("That login name is already taken."),
    "console_bad_login": N_("Give a login name of at most 64 characters and the person's name."),
    "not_lead_or_liaison": N_(
        "Only secretaries and liaison officers can see what the branch owes."
    ),
    "no_meeting_today": N_("Your branch has no meeting today, so there is nothing to sign in to."),
    "no_meeting_yet": N_("Your branch has not held a meeting yet."),
    "no_meeting_ahead": N_("Your branch has no upcoming meeting."),
    "meeting_cancelled": N_("That meeting was cancelled."),
    "meeting_past": N_("That meeting is already over."),
    "code_needed": N_("Please send the 6-digit check-in code with it, e.g. /checkin 123456."),
    "code_wrong": N_("That check-in code is wrong. Ask the secretary for today's code."),
    "too_many_binds": N_(
        "Too many wrong invite codes. Try again in {minutes} minutes, or ask the secretary."
    ),
    "too_many_codes": N_(
        "Too many wrong codes. Try again in {minutes} minutes, or ask the secretary."
    ),
    "already_present": N_("You already signed in at {at}; no leave is needed."),
    "date_in_future": N_("That date is in the future; report activities that already took place."),
    "date_in_past": N_("That date has already passed."),
    "not_a_partner": N_("That organization is not one of your partners."),
    "alliance_empty": N_("This alliance has no units to rotate yet."),
    "alliance_presidents": N_(
        "An alliance has {low} to {high} president units (会长单位); {count} were given."
    ),
    "alliance_exists": N_("An alliance with the code {alliance} already exists."),
    "not_in_alliance": N_("That organization is not in your alliance."),
    "not_president_unit": N_("Only president units take turns at that duty."),
    "no_alliance": N_("Your organization is not in an alliance."),
    "bad_period": N_(
        "I could not read that period. Use a month like 2026-12 or a quarter like 2027Q1."
    ),
    "reason_needed": N_("Please give a reason for the change."),
    "org_unknown": N_("No organization has that code."),
    "alliance_unknown": N_("No alliance has that code."),
    "quarter_ahead": N_("That quarter has not started yet."),
    "year_ahead": N_("That year has not started yet."),
    "download_unknown": N_(
        "That download link is unknown, used or expired. Ask for the ledger again."
    ),
    "meeting_unknown": N_("Your branch has no such meeting."),
    "meeting_ahead": N_("That meeting has not taken place yet; write its minutes afterwards."),
    "minutes_empty": N_("The minutes need their content."),
    "minutes_missing": N_("That meeting has no minutes yet. Send 会议记录 to write them."),
    "photo_too_large": N_(
        "That photo is {size} MB; photos may be at most {limit} MB. Send a smaller one."
    ),
    "photo_over_limit": N_(
        "That photo is over {limit} MB; photos may be at most {limit} MB. Send a smaller one."
    ),
    "photo_type": N_("Only JPEG, PNG and WebP photos can be kept as evidence."),
    "photo_count": N_("Send at most {limit} photos at a time."),
    "photo_no_report": N_(
        "Photos are kept with a report. Send 汇报 to report the activity, then send the photos."
    ),
    "photo_busy": N_("Finish or cancel what you are doing first, then send the photos again."),
    "bad_group_code": N_(
        "{value} is not a code: use letters, digits, - or _ (at most 32), e.g. JD-2026."
    ),
    "bad_name": N_("A name is required, at most {limit} characters."),
    "pairing_lead_needed": N_("A pairing needs a lead organization (牵头单位)."),
    "pairing_lead_is_partner": N_("{value} is the lead: do not list it among the partners too."),
    "pairing_one_to_one": N_(
        "A one-to-one pairing (一对一) has the lead and exactly one partner, not {count}."
    ),
    "pairing_needs_several": N_(
        "A many-to-one or one-to-many pairing (多对一/一对多) needs at least two partners, not {count}."
    ),
    "agreement_ends_before_start": N_("The agreement cannot end before it starts."),
    "bad_visit_target": N_("The visits a year must be a number from 1 to {limit}."),
    "pairing_exists": N_("A pairing with the code {value} already exists: edit it instead."),
    "pairing_unknown": N_("No pairing has the code {value}."),
    "units_listed_twice": N_("These units are listed twice: {value}."),
    "alliance_theme_order": N_(
        "The theme-day order must list every unit of the alliance exactly once."
    ),
    "bad_term": N_("The executive term must be a number of months from 1 to {limit}."),
    "org_unknown_code": N_("No organization has the code {value}."),
    "org_not_in_scope": N_("No organization under you has the code {value}."),
    "group_not_in_scope": N_(
        "The code {value} belongs to a pairing or alliance of organizations not under you:"
        " choose another code."
    ),
    "setting_unknown": N_("Unknown setting {value}; use one of: {keys}."),
    "bad_time": N_("{value} is not a time of day; write it like 14:30."),
    "bad_lead_days": N_(
        "{value} are not lead days; write the days before, like 14,3 (each from 1 to 60)."
    ),
    "bad_day_count": N_("{value} is not a whole number from {low} to {high}."),
    "reminder_setting_unknown": N_("There is no reminder setting {value}."),
    "bad_policy": N_("Unknown holiday policy {value}: use keep (照常) or next_workday (顺延)."),
    "bad_form": N_(
        "Unknown pairing form {value}: use one_to_one, many_to_one, one_to_many (一对一/多对一/一对多)."
    ),
    "bad_convener_rule": N_(
        "Unknown convener rule {value}: use executive (执行会长单位) or rotation (轮流)."
    ),
    "bad_duty_period": N_("Unknown duty period {value}: use month (每月) or quarter (每季度)."),
    "required": N_("a value is required"),
    "bad_date": N_("{value} is not a date like 2026-05-01."),
    "bad_number": N_("{value} is not a whole number."),
    "duplicate_code": N_("The same code as row {row}."),
    "member_id_unknown": N_("No current member has the id {id}. See: gongjian member list"),
    "meeting_exists": N_("A meeting of that kind is already on the calendar at that time."),
    "no_meeting_on_day": N_("Your branch hosts no meeting ahead on that day."),
    "not_on_duty": N_(
        "{org} is on duty then: its secretary schedules that meeting and takes attendance."
    ),
    "no_pairing": N_("Your organization is in no pairing, so there is no visit to schedule."),
    "checkin_not_open": N_("Check-in is not open yet: it opens at {at}."),
    "checkin_closed": N_("Check-in closed at {at}; ask the secretary to record you."),
    "no_leave": N_("You have not asked leave for any meeting ahead."),
    "unit_unknown": N_("No unit of your alliance is called {name}."),
    "unit_ambiguous": N_("Several units of your alliance have names beginning with {name}."),
    "member_unknown": N_("No member of your branch is called {name}."),
    "member_ambiguous": N_(
        "Several members of your branch are called {name}; ask the committee to tell them apart."
    ),
    "meeting_begun": N_("That meeting has already begun, so it can no longer be moved."),
    "attendance_ahead": N_("That meeting has not begun yet: only leave can be recorded before it."),
    "not_expected": N_("That person is not expected at this meeting."),
}


def explain(t: Translator, error: ServiceError) -> str:
    """Returns the translated sentence for a service refusal."""
    message = MESSAGES.get(error.code, N_("That cannot be done right now."))
    values = {key: _format(t, value) for key, value in error.details.items()}
    return t(message, **values)


def _format(t: Translator, value: object) -> object:
    """Formats datetimes in the details as wall-clock times."""
    return t.time(value) if isinstance(value, datetime) else value
