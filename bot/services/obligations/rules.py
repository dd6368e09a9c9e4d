"""The reminder rules: pure functions of a facts snapshot saying what is owed and what to push now.

Every rule yields obligations, each with the windows in which it nudges. A push is due when a
window is open at `now` (and quiet hours do not hold it); a repeating window nudges once per
step. Because the rules look only at what is owed at `now`, one tick after any downtime sends
the current step once: missed steps are not replayed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from functools import partial

from bot.calendar.orglife import org_life_day
from bot.calendar.quarters import Quarter, month_key
from bot.core.domain import Duty, MeetingStatus, OrgKind, PairingForm
from bot.services.obligations.facts import Facts, PairingFact, shift_month
from storage.reminders import FilingKind, alliance_scope, org_scope, pairing_scope

log = logging.getLogger(__name__)

MIDNIGHT = time(0, 0)
# The morning reminder goes at least this long before a meeting that starts very early.
MORNING_LEAD = timedelta(hours=1)
# A mobile member is nudged about the three reports for at most this long after being marked.
MOBILE_NUDGE_SPAN = timedelta(weeks=26)


class Rule(StrEnum):
    """The reminders the rules imply (DOMAIN.md, "Reminders the rules imply")."""

    ORGLIFE = "orglife"
    THEME_DUTY = "theme_duty"
    JOINT_MEETING = "joint_meeting"
    PAIRING_VISITS = "pairing_visits"
    PAIRING_QUIET = "pairing_quiet"
    LEDGER = "ledger"
    ANNUAL_PLAN = "annual_plan"
    YEAR_SUMMARY = "year_summary"
    OPINION = "opinion"
    MOBILE = "mobile_reports"


# Members may mute nudges, but not the org-life day or their organization's duty.
ESSENTIAL_RULES = frozenset({Rule.ORGLIFE, Rule.THEME_DUTY})


@dataclass(frozen=True, slots=True)
class Window:
    """A span in which an obligation nudges: once, or once per `every` step."""

    opens: datetime
    closes: datetime
    tag: str = ""
    every: timedelta | None = None
    urgent: bool = False

    def step(self, now: datetime) -> int | None:
        """Returns the step open at `now` (0 for a one-off window), or None when closed."""
        if not self.opens <= now < self.closes:
            return None
        if self.every is None:
            return 0
        return (now - self.opens) // self.every


@dataclass(frozen=True, slots=True)
class Obligation:
    """Something owed: by which organizations, who is nudged about it, and when."""

    rule: Rule
    subject: str
    period: str
    owners: tuple[int, ...]
    recipients: tuple[int, ...]
    values: Mapping[str, object]
    windows: tuple[Window, ...]
    listed: bool = True

    def open_window(self, now: datetime) -> tuple[Window, int] | None:
        """Returns the window open at `now` with its step, if any."""
        for window in self.windows:
            step = window.step(now)
            if step is not None:
                return window, step
        return None


@dataclass(frozen=True, slots=True)
class Push:
    """One message due to one member now; `key` makes it unique in the outbox."""

    rule: Rule
    subject: str
    period: str
    member_id: int
    urgent: bool
    tag: str
    today: date
    values: Mapping[str, object]
    held: bool = False

    @property
    def key(self) -> str:
        """The idempotency key: rule, subject, period and recipient."""
        return f"{self.rule.value}:{self.subject}:{self.period}:m{self.member_id}"

    @property
    def essential(self) -> bool:
        """Tells whether muting does not apply to this push."""
        return self.rule in ESSENTIAL_RULES


def is_quiet(at: time, start: time, end: time) -> bool:
    """Tells whether a wall-clock time falls in quiet hours (which may wrap past midnight)."""
    if start == end:
        return False
    if start < end:
        return start <= at < end
    return at >= start or at < end


def due_pushes(facts: Facts) -> list[Push]:
    """Returns the pushes due at the snapshot's moment, one per key; quiet hours hold the rest."""
    return [push for push in owed_pushes(facts) if not push.held]


def owed_pushes(facts: Facts) -> list[Push]:
    """Returns every push whose window is open now, marking those quiet hours hold; none muted."""
    return list(owed_by_key(facts).values())


def owed_by_key(facts: Facts) -> dict[str, Push]:
    """Returns every push owed now (as `owed_pushes`) by its outbox key, each key built once."""
    pushes: dict[str, Push] = {}
    for key, push in owed_stream(facts):
        pushes.setdefault(key, push)
    return pushes


def owed_stream(facts: Facts) -> Iterator[tuple[str, Push]]:
    """Yields each push owed now with its key, in a fixed order; a key may come more than once.

    The first of a key is the one owed (as in `owed_by_key`). Nothing is held: at city scale
    a caller can go through the pushes twice rather than keep 100,000 of them.
    """
    now, today = facts.now, facts.today
    quiet = is_quiet(now.time(), facts.quiet_start, facts.quiet_end)
    for obligation in obligations(facts):
        found = obligation.open_window(now)
        if found is None:
            continue
        window, step = found
        period = obligation.period
        if window.tag:
            period += f"-{window.tag}{step if window.every is not None else ''}"
        essential = obligation.rule in ESSENTIAL_RULES
        for member_id in obligation.recipients:
            member = facts.members.get(member_id)
            if member is None or member_id not in facts.reachable:
                continue
            if member.muted and not essential:
                continue
            push = Push(
                rule=obligation.rule,
                subject=obligation.subject,
                period=period,
                member_id=member_id,
                urgent=window.urgent,
                tag=window.tag,
                today=today,
                values=obligation.values,
                held=quiet and not window.urgent,
            )
            yield push.key, push


def next_change(facts: Facts) -> datetime:
    """Returns the first moment after the snapshot's at which the pushes owed may differ.

    Until then, with the same facts, `owed_pushes` gives the same pushes: no window opens,
    closes or steps, quiet hours neither start nor end, and the day does not turn.
    """
    now = facts.now
    moments = [_at(facts, facts.today + timedelta(days=1), MIDNIGHT)]
    for clock in (facts.quiet_start, facts.quiet_end):
        moment = _at(facts, facts.today, clock)
        moments.append(moment if moment > now else moment + timedelta(days=1))
    rules: tuple[Callable[..., Iterator[Obligation]], ...] = (
        partial(orglife_obligations, upcoming=True),
        *LISTED_RULES,
    )
    found = (obligation for rule in rules for obligation in rule(facts))
    for obligation in found:
        for window in obligation.windows:
            if now < window.opens:
                moments.append(window.opens)
            elif now < window.closes:
                moments.append(window.closes)
                if window.every is not None:
                    steps = (now - window.opens) // window.every + 1
                    moments.append(window.opens + steps * window.every)
    return min(moments)


def pending_for(facts: Facts, org_id: int) -> list[Obligation]:
    """Lists what an organization still owes this quarter (and its mobile members' reports)."""
    # Only the organization's own obligations are built; org-life reminders are pushed, never
    # listed, so their rule is not run at all.
    found = (
        obligation
        for rule in LISTED_RULES
        for obligation in rule(facts, owner=org_id)
        if obligation.listed and org_id in obligation.owners
    )
    return list(found)


def obligations(facts: Facts) -> Iterator[Obligation]:
    """Yields every obligation of every rule at the snapshot's moment."""
    yield from orglife_obligations(facts)
    for rule in LISTED_RULES:
        yield from rule(facts)


def _holds(owner: int | None, *owners: int) -> bool:
    """Tells whether an obligation owned by `owners` is wanted: every one, or `owner`'s."""
    return owner is None or owner in owners


def _at(facts: Facts, day: date, clock: time) -> datetime:
    """Returns a local wall-clock moment on `day`."""
    return datetime.combine(day, clock, tzinfo=facts.now.tzinfo)


def orglife_obligations(
    facts: Facts, *, owner: int | None = None, upcoming: bool = False
) -> Iterator[Obligation]:
    """Org-life day: every member, the evening before and the morning of the day; leave excuses.

    With `upcoming`, also the days whose windows are not open now (for `next_change`).
    """
    now, today = facts.now, facts.today
    for org in facts.orgs.values():
        member_ids = facts.members_by_org.get(org.id)
        if org.kind is OrgKind.COMMITTEE or not member_ids or not _holds(owner, org.id):
            continue
        config = facts.config(org_id=org.id)
        for shift in (-1, 0, 1):
            month = shift_month(today, shift)
            stored = facts.orglife.get((org.id, month_key(month)))
            if stored is not None:
                if stored.status is MeetingStatus.CANCELLED:
                    continue
                day, starts, venue = stored.held_on, stored.starts_at, stored.venue
                moved_from, reason, holiday = stored.moved_from, stored.move_reason, stored.holiday
            else:
                try:
                    rule_day = org_life_day(
                        month.year,
                        month.month,
                        holidays=facts.holidays,
                        ordinal=org.orglife_ordinal,
                        weekday=org.orglife_weekday,
                        policy=org.holiday_policy,
                    )
                except ValueError:
                    log.warning("organization %s has an invalid org-life rule", org.code)
                    break
                day = rule_day.date
                starts = _at(facts, day, org.orglife_time)
                venue = org.orglife_venue
                moved_from = rule_day.original if rule_day.moved else None
                reason = rule_day.reason.value if rule_day.reason else None
                holiday = rule_day.holiday.value if rule_day.holiday else None
            morning = min(_at(facts, day, config.orglife_morning_time), starts - MORNING_LEAD)
            eve = min(_at(facts, day - timedelta(days=1), config.orglife_eve_time), morning)
            if not upcoming and not eve <= now < starts:
                continue
            excused = facts.excused.get(stored.id, frozenset()) if stored else frozenset()
            yield Obligation(
                rule=Rule.ORGLIFE,
                subject=org_scope(org.id),
                period=day.isoformat(),
                owners=(org.id,),
                recipients=tuple(m for m in member_ids if m not in excused),
                values={
                    "org": org.name,
                    "held_on": day,
                    "starts_at": starts,
                    "venue": venue,
                    "moved_from": moved_from,
                    "move_reason": reason,
                    "holiday": holiday,
                },
                windows=(
                    Window(eve, morning, tag="eve"),
                    Window(morning, starts, tag="morning", urgent=True),
                ),
                listed=False,
            )


def theme_duty_obligations(facts: Facts, *, owner: int | None = None) -> Iterator[Obligation]:
    """Theme party day on duty: the duty org's secretary and liaison, lead days before its period.

    The lead days are the unit on duty's own when it set them, else the alliance's.
    """
    today = facts.today
    quarter = Quarter.of(today)
    for alliance in facts.alliances:
        longest = max(
            (
                max(facts.config(org_id=unit, alliance_id=alliance.id).theme_lead_days, default=0)
                for unit in {u.org_id for u in alliance.units}
            ),
            default=0,
        )
        horizon = max(quarter.last_day, today + timedelta(days=longest))
        day = today
        while day <= horizon:
            slot = alliance.duty(Duty.THEME_DAY, day)
            if slot is None:
                break
            day = slot.last_day + timedelta(days=1)
            key = (alliance.id, slot.period)
            if key in facts.alliance_theme or key in facts.alliance_theme_planned:
                continue
            if not _holds(owner, slot.org_id):
                continue
            config = facts.config(org_id=slot.org_id, alliance_id=alliance.id)
            leads = sorted(config.theme_lead_days, reverse=True) or [0]
            windows = []
            for index, lead in enumerate(leads):
                opens = _at(facts, slot.first_day - timedelta(days=lead), config.notice_time)
                if index + 1 < len(leads):
                    following = slot.first_day - timedelta(days=leads[index + 1])
                    closes = _at(facts, following, config.notice_time)
                else:
                    closes = _at(facts, slot.first_day, MIDNIGHT)
                if opens < closes:
                    windows.append(Window(opens, closes, tag=f"d{lead}"))
            yield Obligation(
                rule=Rule.THEME_DUTY,
                subject=alliance_scope(alliance.id),
                period=slot.period,
                owners=(slot.org_id,),
                recipients=facts.leads(slot.org_id),
                values={
                    "alliance": alliance.name,
                    "org": facts.org_name(slot.org_id),
                    "period": slot.period,
                    "first_day": slot.first_day,
                },
                windows=tuple(windows),
                listed=slot.first_day <= quarter.last_day,
            )


def joint_meeting_obligations(facts: Facts, *, owner: int | None = None) -> Iterator[Obligation]:
    """Joint meeting: the convener's liaison and secretary from mid-quarter, weekly, until recorded."""
    today = facts.today
    quarter = Quarter.of(today)
    for alliance in facts.alliances:
        slot = alliance.duty(Duty.CONVENER, today)
        key = (alliance.id, str(quarter))
        if slot is None or key in facts.alliance_joint or key in facts.alliance_joint_planned:
            continue
        if not _holds(owner, slot.org_id):
            continue
        config = facts.config(alliance_id=alliance.id)
        yield Obligation(
            rule=Rule.JOINT_MEETING,
            subject=alliance_scope(alliance.id),
            period=str(quarter),
            owners=(slot.org_id,),
            recipients=facts.leads(slot.org_id),
            values={
                "alliance": alliance.name,
                "org": facts.org_name(slot.org_id),
                "quarter": str(quarter),
                "last_day": quarter.last_day,
            },
            windows=(
                Window(
                    _at(facts, quarter.midpoint, config.notice_time),
                    _at(facts, quarter.last_day + timedelta(days=1), MIDNIGHT),
                    tag="w",
                    every=timedelta(days=config.joint_meeting_every_days),
                ),
            ),
        )


def visit_due_day(pairing: PairingFact, target: int, k: int, year: int) -> date:
    """Returns the day the k-th of `target` visits falls due on the pro-rata path of `year`."""
    # The k-th visit is due once the year is (k - 1/2) / target gone, counted from the
    # agreement's start when it began that year: a target of 3 asks for visits by early March,
    # early July and early November.
    start = max(date(year, 1, 1), pairing.agreement_start)
    length = (date(year, 12, 31) - date(year, 1, 1)).days + 1
    need = -(-(2 * k - 1) * length // (2 * target))
    return start + timedelta(days=need - 1)


def visits_expected(pairing: PairingFact, target: int, today: date) -> int:
    """Counts the visits the pro-rata path expects by `today`."""
    if target <= 0:
        return 0
    return sum(
        1 for k in range(1, target + 1) if visit_due_day(pairing, target, k, today.year) <= today
    )


def visit_counts(facts: Facts, pairing: PairingFact) -> list[tuple[int | None, int]]:
    """Counts a pairing's visits this year: per partner for 一对多 (000), else in all (None)."""
    if pairing.form is not PairingForm.ONE_TO_MANY:
        return [(None, len(facts.pairing_visits.get(pairing.id, ())))]
    days = facts.partner_visits.get(pairing.id, {})
    return [(partner, len(days.get(partner, ()))) for partner in pairing.partners]


def pairing_obligations(facts: Facts, *, owner: int | None = None) -> Iterator[Obligation]:
    """Pairings: both liaisons when behind the pro-rata visit path, and when a quarter is quiet."""
    today = facts.today
    quarter = Quarter.of(today)
    month_first = today.replace(day=1)
    for pairing in facts.pairings:
        if not pairing.active_on(today) or not _holds(owner, *pairing.org_ids):
            continue
        config = facts.config(org_id=pairing.lead_org_id)
        recipients = tuple(dict.fromkeys(m for org in pairing.org_ids for m in facts.liaisons(org)))
        subject = pairing_scope(pairing.id)
        target = pairing.visit_target or config.visit_target
        expected = visits_expected(pairing, target, today)
        for partner, done in visit_counts(facts, pairing):
            if done >= expected:
                continue
            behind_since = visit_due_day(pairing, target, done + 1, today.year)
            values: dict[str, object] = {
                "pairing": pairing.name,
                "done": done,
                "target": target,
                "expected": expected,
            }
            owners, nudged, scope = pairing.org_ids, recipients, subject
            if partner is not None:
                # 一对多: the lead and the partner behind, each partner on its own.
                values["partner"] = facts.org_name(partner)
                owners = (pairing.lead_org_id, partner)
                nudged = tuple(dict.fromkeys(m for org in owners for m in facts.liaisons(org)))
                scope = f"{subject}:org:{partner}"
            yield Obligation(
                rule=Rule.PAIRING_VISITS,
                subject=scope,
                period=month_key(today),
                owners=owners,
                recipients=nudged,
                values=values,
                windows=(
                    Window(
                        _at(facts, max(month_first, behind_since), config.notice_time),
                        _at(facts, shift_month(today, 1), MIDNIGHT),
                    ),
                ),
            )
        if (pairing.id, str(quarter)) not in facts.pairing_joint:
            yield Obligation(
                rule=Rule.PAIRING_QUIET,
                subject=subject,
                period=str(quarter),
                owners=pairing.org_ids,
                recipients=recipients,
                values={"pairing": pairing.name, "quarter": str(quarter)},
                windows=(
                    Window(
                        _at(facts, quarter.midpoint, config.notice_time),
                        _at(facts, quarter.last_day + timedelta(days=1), MIDNIGHT),
                    ),
                ),
            )


def ledger_obligations(facts: Facts, *, owner: int | None = None) -> Iterator[Obligation]:
    """Quarterly ledger: secretaries and liaisons in the quarter's last days, until it is filed."""
    quarter = Quarter.of(facts.today)
    participants = {unit.org_id for alliance in facts.alliances for unit in alliance.units}
    participants |= {org for pairing in facts.pairings for org in pairing.org_ids}
    for org_id in sorted(participants & facts.orgs.keys()):
        scope = org_scope(org_id)
        if (FilingKind.LEDGER, scope, str(quarter)) in facts.filings or not _holds(owner, org_id):
            continue
        config = facts.config(org_id=org_id)
        first = quarter.last_day - timedelta(days=config.ledger_window_days - 1)
        yield Obligation(
            rule=Rule.LEDGER,
            subject=scope,
            period=str(quarter),
            owners=(org_id,),
            recipients=facts.leads(org_id),
            values={
                "org": facts.org_name(org_id),
                "quarter": str(quarter),
                "due": quarter.last_day,
            },
            windows=(
                Window(
                    _at(facts, first, config.notice_time),
                    _at(facts, quarter.last_day + timedelta(days=1), MIDNIGHT),
                    tag="n",
                    every=timedelta(days=config.ledger_every_days),
                ),
            ),
        )


def lead_obligations(facts: Facts, *, owner: int | None = None) -> Iterator[Obligation]:
    """Annual plan in January and year-end summary in December, to alliance and pairing leads."""
    today = facts.today
    if today.month == 1:
        rule, kind = Rule.ANNUAL_PLAN, FilingKind.ANNUAL_PLAN
    elif today.month == 12:
        rule, kind = Rule.YEAR_SUMMARY, FilingKind.YEAR_SUMMARY
    else:
        return
    month_first = today.replace(day=1)
    closes = _at(facts, shift_month(today, 1), MIDNIGHT)
    groups: list[tuple[str, str, int, int | None]] = []
    for alliance in facts.alliances:
        executive = alliance.duty(Duty.EXECUTIVE, today)
        if executive is not None:
            groups.append(
                (alliance_scope(alliance.id), alliance.name, executive.org_id, alliance.id)
            )
    for pairing in facts.pairings:
        if pairing.active_on(today):
            groups.append((pairing_scope(pairing.id), pairing.name, pairing.lead_org_id, None))
    for scope, name, lead, alliance_id in groups:
        if (kind, scope, str(today.year)) in facts.filings or not _holds(owner, lead):
            continue
        config = facts.config(org_id=lead, alliance_id=alliance_id)
        start_day = config.plan_start_day if rule is Rule.ANNUAL_PLAN else config.summary_start_day
        opens = _at(facts, month_first.replace(day=min(start_day, 28)), config.notice_time)
        yield Obligation(
            rule=rule,
            subject=scope,
            period=str(today.year),
            owners=(lead,),
            recipients=facts.leads(lead),
            values={"group": name, "org": facts.org_name(lead), "year": today.year},
            windows=(Window(opens, closes, tag="w", every=timedelta(days=config.lead_every_days)),),
        )


def opinion_obligations(facts: Facts, *, owner: int | None = None) -> Iterator[Obligation]:
    """Monthly opinion solicitation: branch secretaries, from the 20th, if none is recorded."""
    today = facts.today
    month = month_key(today)
    for org in facts.orgs.values():
        if (
            org.kind not in (OrgKind.BRANCH, OrgKind.JOINT_BRANCH)
            or (org.id, month) in facts.opinions
            or not _holds(owner, org.id)
        ):
            continue
        config = facts.config(org_id=org.id)
        yield Obligation(
            rule=Rule.OPINION,
            subject=org_scope(org.id),
            period=month,
            owners=(org.id,),
            recipients=facts.secretaries(org.id),
            values={"org": org.name, "month": today.replace(day=1)},
            windows=(
                Window(
                    _at(facts, today.replace(day=config.opinion_day), config.notice_time),
                    _at(facts, shift_month(today, 1), MIDNIGHT),
                ),
            ),
        )


def mobile_obligations(facts: Facts, *, owner: int | None = None) -> Iterator[Obligation]:
    """Mobile members' three reports: the member, from being marked, weekly, until filed."""
    for movement in facts.movements:
        member = facts.members.get(movement.member_id)
        if member is None or not _holds(owner, member.org_id):
            continue
        config = facts.config(org_id=member.org_id)
        yield Obligation(
            rule=Rule.MOBILE,
            subject=f"movement:{movement.id}",
            period=movement.marked_at.date().isoformat(),
            owners=(member.org_id,),
            recipients=(member.id,),
            values={
                "member": member.name,
                "direction": movement.direction.value,
                "place": movement.place,
                "reports": tuple(report.value for report in movement.owed),
            },
            windows=(
                Window(
                    movement.marked_at,
                    movement.marked_at + MOBILE_NUDGE_SPAN,
                    tag="w",
                    every=timedelta(days=config.mobile_every_days),
                ),
            ),
        )


# The rules whose obligations may be listed (by `pending_for`), in order; the org-life rule,
# which `obligations` runs first, is pushed only.
LISTED_RULES: tuple[Callable[..., Iterator[Obligation]], ...] = (
    theme_duty_obligations,
    joint_meeting_obligations,
    pairing_obligations,
    ledger_obligations,
    lead_obligations,
    opinion_obligations,
    mobile_obligations,
)
