"""The assistant: routes one inbound message through the handlers inside one unit of work."""

from __future__ import annotations

import collections
import functools
import itertools
import json
import logging
import re
import time
import unicodedata
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import replace
from datetime import timedelta

from bot.calendar.holidays import HolidayCalendar
from bot.config import Settings
from bot.core.clock import Clock
from bot.core.domain import RoleKind
from bot.core.i18n import N_, Translator, match_locale
from bot.core.inbound import Channel, Inbound
from bot.core.metrics import ANSWER_SECONDS, UPDATES
from bot.core.names import clean_line
from bot.core.ports import Answer
from bot.core.records import MemberView
from bot.core.reply import Button, Reply, offered
from bot.engine.group_commit import Delivery, GroupCommit
from bot.services.arrival import Arrival, SeenMark, mark_seen
from bot.services.conversations import ConversationKey, State
from bot.services.errors import ServiceError
from bot.services.options import pick_option
from bot.services.use_cases import Services, ServiceSettings, SharedTransactionError
from bot.texts.phrases import ROLES
from bot.texts.translation import translator
from handlers.base import BACK, CANCEL, UNKNOWN_FLOW, Command, Context, Router
from handlers.errors import explain
from storage.channels import (
    SWEEP_EVERY,
    DeliveryRecord,
    bound_member,
    recall_options,
    record_deliveries,
    record_group,
    remember_options,
)
from storage.deliveries import stored_answer
from storage.engine import Database, UnitOfWork

log = logging.getLogger(__name__)

# The answer to content no flow reads: a photo, a sticker, a file, a voice message.
UNSUPPORTED = N_(
    "I can read text messages, menu choices and shared locations. Send /help to see what I can do."
)

MAX_TEXT = 4000
MAX_NAME = 100
# Inside a flow the step judges the length against its own limit (a summary's 2000, say), so
# only text no step could take is refused before it.
MAX_FLOW_TEXT = 20_000
BACK_WORDS = frozenset({BACK, "返回", "上一步", "/back"})
CANCEL_WORDS = frozenset({CANCEL, "取消", "退出"})
# Punctuation that may separate a Chinese keyword from its argument ("签到：123456").
# Refusals for lack of a role: audited, unlike refusals of bad input.
DENIALS = frozenset({"not_allowed", "not_lead_or_liaison", "console_not_allowed"})
SEPARATORS = (" ", "\u3000", ":", "：", ",", "，")
# What may follow a keyword that has no argument ("这个月谁主持？").
ENDINGS = ("？", "?", "！", "!", "。", ".")
# A check-in code sent on its own.
BARE_CODE = re.compile(r"[0-9]{6}")
# The draft a command interrupted, kept in the state of the flow that command started.
PAUSED = "_paused"
# Group commit: threads that answer queued deliveries, and the most a transaction takes.
GROUP_THREADS = 4
SQLITE_GROUP = 64
POSTGRES_GROUP = 32
# Stored answers keep their Chinese as is; one encoder for all (`json.dumps` builds one a call).
_ANSWER_JSON = json.JSONEncoder(ensure_ascii=False)


def normalized(text: str) -> str:
    """Folds full-width letters, digits and spaces to ASCII (NFKC) and trims; keeps punctuation."""
    if text.isascii():
        return text.strip()
    return "".join(map(_folded, text)).strip()


@functools.lru_cache(maxsize=8192)
def _folded(char: str) -> str:
    """Returns a character as ASCII when NFKC makes it a letter, digit or space; else as is."""
    if char.isascii():
        return char
    plain = unicodedata.normalize("NFKC", char)
    # Chinese punctuation stays as typed: it is part of what a member writes.
    return plain if plain.isascii() and (plain.isalnum() or plain.isspace()) else char


def storable_text(value: str) -> str:
    """Drops what no backend can store: NUL characters (PostgreSQL) and unpaired surrogates."""
    if "\x00" in value:
        value = value.replace("\x00", "")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        # A JSON body may escape half of a surrogate pair ("\ud83d"): whole pairs are joined,
        # a lone half becomes U+FFFD.
        value = value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return value


def storable(inbound: Inbound) -> Inbound:
    """Returns the message with every typed field storable, unchanged when it already is."""
    text = storable_text(inbound.text)
    button = storable_text(inbound.button) if inbound.button is not None else None
    # A name is shown to others (a roll call): no bidi overrides or invisible characters.
    name = clean_line(storable_text(inbound.display_name), limit=MAX_NAME)
    if (text, button, name) == (inbound.text, inbound.button, inbound.display_name):
        return inbound
    return replace(inbound, text=text, button=button, display_name=name)


class Assistant:
    """Answers inbound messages; the one core every channel talks to."""

    def __init__(
        self,
        *,
        database: Database,
        clock: Clock,
        settings: Settings,
        holidays: HolidayCalendar,
        routers: Sequence[Router],
    ) -> None:
        self.database = database
        self.clock = clock
        self.settings = settings
        self.holidays = holidays
        self.routers = {router.flow: router for router in routers}
        self.commands: dict[str, Command] = {}
        self.keywords: list[tuple[str, Command]] = []
        for router in routers:
            for command in router.commands:
                self.commands[command.name] = command
                self.keywords.extend((keyword, command) for keyword in command.keywords)
        self.menu = [command for command in self.commands.values() if command.menu]
        self.flow_titles = {router.flow: router.title for router in routers}
        # Longest keyword first, so "本季度谁主持" wins over "谁主持".
        self.keywords.sort(key=lambda item: -len(item[0]))
        # The same, by first character: a message is tried only against keywords it can match.
        self._keywords_from: dict[str, list[tuple[str, Command]]] = {}
        for keyword, command in self.keywords:
            self._keywords_from.setdefault(keyword[:1], []).append((keyword, command))
        self.timeout = timedelta(minutes=settings.conversation_timeout_minutes)
        self._derived = ServiceSettings.of(settings)
        self._option_writes = itertools.count(1)
        # SQLite takes one writer at a time: one committer. PostgreSQL overlaps the round trips
        # of a few committers, each with its own group.
        sqlite = database.dialect == "sqlite"
        self._groups = GroupCommit(
            self._answer_group,
            threads=1 if sqlite else GROUP_THREADS,
            most=SQLITE_GROUP if sqlite else POSTGRES_GROUP,
        )

    # -- the Core protocol -----------------------------------------------------------------

    def handle(self, inbound: Inbound) -> list[Reply]:
        """Answers one inbound message; never raises (failures become an apology reply)."""
        return self.answer(inbound).replies

    def answer(
        self, inbound: Inbound, *, once: Sequence[str] = (), numbered: bool = False
    ) -> Answer:
        """Answers one delivery in one transaction that records its `once` keys; never raises."""
        started = time.perf_counter()
        try:
            return self._answer(inbound, once=once, numbered=numbered)
        finally:
            channel = inbound.channel.value
            UPDATES.inc(channel)
            ANSWER_SECONDS.observe(time.perf_counter() - started, channel)

    def submit(
        self, inbound: Inbound, *, once: Sequence[str] = (), numbered: bool = False
    ) -> Future[Answer]:
        """Queues one delivery for a group commit; the future holds its answer once committed."""
        return self._groups.submit(Delivery(inbound, tuple(once), numbered))

    def close(self) -> None:
        """Lets the group-commit threads end once the deliveries queued so far are answered."""
        self._groups.stop()

    def _answer_group(self, deliveries: Sequence[Delivery]) -> list[Answer]:
        """Answers deliveries in one transaction; one that must undo its writes spoils it."""
        if len(deliveries) == 1:
            only = deliveries[0]
            return [self.answer(only.inbound, once=only.once, numbered=only.numbered)]
        started = time.perf_counter()
        # Every delivery's keys and last-seen stamp, written together once all are answered.
        records: list[DeliveryRecord] = []
        seen: list[SeenMark] = []
        try:
            with self.database.session() as session:
                answers = [
                    self._work(
                        session,
                        storable(d.inbound),
                        d.once,
                        d.numbered,
                        [""],
                        records=records,
                        seen=seen,
                    )
                    for d in deliveries
                ]
                if record_group(session, records):
                    # A retry or a duplicate among them: each is answered (and replayed) alone.
                    raise SharedTransactionError
                mark_seen(session, seen)
        except Exception as error:
            # A delivery that undoes its writes is expected; any other failure is worth a look.
            if isinstance(error, SharedTransactionError):
                log.debug("a group of %d deliveries answered one by one", len(deliveries))
            else:
                log.warning(
                    "a group of %d deliveries failed: answered one by one",
                    len(deliveries),
                    exc_info=True,
                )
            return [self.answer(d.inbound, once=d.once, numbered=d.numbered) for d in deliveries]
        spent = time.perf_counter() - started
        channels = collections.Counter(d.inbound.channel.value for d in deliveries)
        for channel, count in channels.items():
            UPDATES.inc(channel, amount=count)
            ANSWER_SECONDS.observe(spent, channel, times=count)
        return answers

    def _answer(self, inbound: Inbound, *, once: Sequence[str], numbered: bool) -> Answer:
        """Answers one delivery (see `answer`)."""
        inbound = storable(inbound)
        # The member's language once known, so that an apology for a later failure (the
        # database gone mid-request, say) comes in it too.
        locale = [""]
        try:
            with self.database.session() as session:
                return self._work(session, inbound, once, numbered, locale)
        except Exception:
            log.exception(
                "handling failed",
                extra={"channel": inbound.channel.value, "chat_kind": inbound.chat_kind.value},
            )
            chosen = locale[0] or self._apology_locale(inbound)
            t = translator(chosen)
            return Answer([Reply(t("Sorry, something went wrong. Please try again."))], chosen)

    def _work(
        self,
        session: UnitOfWork,
        inbound: Inbound,
        once: Sequence[str],
        numbered: bool,
        locale: list[str],
        *,
        records: list[DeliveryRecord] | None = None,
        seen: list[SeenMark] | None = None,
    ) -> Answer:
        """Answers one delivery in a transaction of its own or, with `records`, a group's.

        In a group, the delivery's keys go into `records` and the account's last-seen stamp into
        `seen`, for the group to write at the end.
        """
        services = self._services(session, shared=records is not None)
        services.seen_later = seen
        if inbound.unsupported:
            return self._unsupported(services, inbound, once, locale, records)
        # One statement: the member, the conversation, today's meetings, the options.
        arrival = services.arrival(
            channel=inbound.channel, chat_id=inbound.chat_id, user_id=inbound.user_id
        )
        offered_before = None
        if numbered:
            offered_before = (
                arrival.options
                if arrival is not None
                else recall_options(
                    session, channel=inbound.channel, user_id=inbound.user_id, now=services.now
                )
            )
            inbound = _with_option(inbound, offered_before)
        replies = self._dispatch(services, inbound, locale, arrival)
        # Recorded after the work, in its transaction: a failure leaves the key free for
        # the platform's retry, and a concurrent duplicate waits on the key and undoes.
        # The answer is stored with the key, so that a retry after a lost connection
        # gets it again (an idempotency key's replay).
        stored = dump_answer(inbound.user_id, replies, locale[0])
        repeat = self._record(services, inbound, once, stored, records)
        if repeat is not None:
            services.undo()
            return self._replay(services, inbound, repeat, locale[0])
        if numbered:
            self._offer(services, inbound, replies, had=offered_before is not None)
        return Answer(replies, locale[0])

    def _unsupported(
        self,
        services: Services,
        inbound: Inbound,
        once: Sequence[str],
        locale: list[str],
        records: list[DeliveryRecord] | None,
    ) -> Answer:
        """Records an unreadable delivery's keys and notes what the assistant reads; nothing else."""
        # A platform event (an unfollow, a location report) is not the member writing: it must
        # not reopen WeChat's 48-hour customer-service window, and it expects no answer.
        event = "event" in inbound.extra
        member = services.members.for_account(
            channel=inbound.channel, external_id=inbound.user_id, seen=not event
        )
        locale[0] = self._locale(member, inbound.locale_hint)
        replies = [] if event else [Reply(translator(locale[0])(UNSUPPORTED))]
        stored = dump_answer(inbound.user_id, replies, locale[0])
        repeat = self._record(services, inbound, once, stored, records)
        if repeat is not None:
            services.undo()
            return self._replay(services, inbound, repeat, locale[0])
        return Answer(replies, locale[0])

    def _apology_locale(self, inbound: Inbound) -> str:
        """Looks the member's language up once more (on a fresh connection), else guesses it."""
        try:
            return self.translator_for(
                channel=inbound.channel, user_id=inbound.user_id, hint=inbound.locale_hint
            ).locale
        except Exception:
            return match_locale(inbound.locale_hint) or self.settings.default_locale

    def _record(
        self,
        services: Services,
        inbound: Inbound,
        keys: Sequence[str],
        answer: str,
        records: list[DeliveryRecord] | None,
    ) -> str | None:
        """Records a delivery's keys with its answer; returns the first one recorded before.

        In a group (`records`), the keys are kept for the group's one statement instead.
        """
        if records is not None:
            records.append(DeliveryRecord(inbound.channel, keys, services.now, answer))
            return None
        return record_deliveries(
            services.session, channel=inbound.channel, keys=keys, at=services.now, answer=answer
        )

    def _replay(self, services: Services, inbound: Inbound, repeat: str, locale: str) -> Answer:
        """Answers a repeated delivery with the answer stored for it (only to the same sender)."""
        stored = stored_answer(session=services.session, channel=inbound.channel, key=repeat)
        replies, stored_locale = load_answer(stored, user_id=inbound.user_id)
        return Answer(replies, stored_locale or locale, repeat=repeat)

    def _offer(
        self, services: Services, inbound: Inbound, replies: Sequence[Reply], *, had: bool
    ) -> None:
        """Remembers the options these replies offer as numbers (clearing older ones)."""
        options = offered(replies)
        if not options and not had:
            return
        remember_options(
            services.session,
            channel=inbound.channel,
            user_id=inbound.user_id,
            options=options,
            now=services.now,
            expires_at=services.now + self.timeout,
            sweep=next(self._option_writes) % SWEEP_EVERY == 0,
        )

    def translator_for(
        self, *, channel: Channel, user_id: str, hint: str | None = None
    ) -> Translator:
        """Returns the translator in the language of the member behind a chat account."""
        with self.database.session() as session:
            member = self._services(session).members.for_account(
                channel=channel, external_id=user_id
            )
        return translator(self._locale(member, hint))

    def bound(self, *, channel: Channel, user_id: str) -> bool:
        """Tells whether a chat account belongs to a current member (before fetching its files)."""
        return bound_member(self.database, channel=channel, external_id=user_id) is not None

    def command_menu(self, locale: str) -> list[tuple[str, str]]:
        """Lists (command, translated description) for a channel's command menu."""
        t = translator(locale)
        return [(c.name, menu_description(t, c)) for c in self.commands.values() if c.menu]

    def healthy(self) -> bool:
        """Tells whether the database answers."""
        return self.database.ping()

    # -- routing ---------------------------------------------------------------------------

    def _services(self, session: object, *, shared: bool = False) -> Services:
        """Builds the services of one unit of work."""
        return Services(
            session,  # type: ignore[arg-type]
            now=self.clock.now(),
            tz=self.clock.tz,
            holidays=self.holidays,
            settings=self.settings,
            shared=shared,
            derived=self._derived,
        )

    def _locale(self, member: MemberView | None, hint: str | None) -> str:
        """Chooses the reply language: the member's choice, the platform's hint, the default."""
        if member and member.locale:
            return member.locale
        return match_locale(hint) or self.settings.default_locale

    def _dispatch(
        self, services: Services, inbound: Inbound, locale: list[str], arrival: Arrival | None
    ) -> list[Reply]:
        """Finds the command or flow step for a message, runs it and stores the flow's state."""
        member = arrival.member if arrival is not None else None
        locale[0] = self._locale(member, inbound.locale_hint)
        t = translator(locale[0])
        if inbound.anonymous_admin:
            return [
                Reply(t("Anonymous admins cannot use the assistant. Please write as yourself."))
            ]
        text = normalized(inbound.button or inbound.text or "")
        key = ConversationKey(inbound.channel, inbound.chat_id, inbound.user_id)
        state = arrival.state if arrival is not None else services.conversations.load(key)
        if len(text) > (MAX_FLOW_TEXT if state is not None else MAX_TEXT):
            return [
                Reply(
                    t(
                        "That message is too long. Please keep it under {limit} characters.",
                        limit=MAX_TEXT,
                    )
                )
            ]
        notes: list[Reply] = []
        if state and state.updated_at and services.now - state.updated_at > self.timeout:
            notes.append(
                Reply(
                    t(
                        "Your unfinished {flow} was dropped after {minutes} minutes without an answer.",
                        flow=t(self.flow_titles.get(state.flow, UNKNOWN_FLOW)),
                        minutes=self.settings.conversation_timeout_minutes,
                    )
                )
            )
            services.conversations.clear(key)
            state = None
        ctx = Context(
            inbound=inbound,
            t=t,
            services=services,
            now=services.now,
            member=member,
            state=state,
            commands=self.menu,
            flow_titles=self.flow_titles,
        )
        before = (state.flow, state.step) if state else None
        try:
            replies = self._route(ctx, text)
        except ServiceError as error:
            # Refusals leave nothing half-done: undo this message's writes, keep the flow as it was.
            if not error.keep_writes:
                services.undo()
                if notes:
                    services.conversations.clear(key)
            if error.code in DENIALS and member is not None:
                # The attempt's writes are undone, but a refused privileged action is on record.
                services.audit(
                    actor_id=member.id, action="denied", subject=self._attempted(text, state)
                )
            answer = [*notes, Reply(explain(t, error))]
            if state is not None and not notes and self._match(text, in_flow=True)[0] is not None:
                # A command sent during a flow was refused; the flow's draft is still there.
                answer.append(self._kept_note(ctx, state.flow))
            return answer
        self._store_state(ctx, services, before, replies)
        if services.new_locale:
            locale[0] = services.new_locale
        return [*notes, *replies]

    def _route(self, ctx: Context, text: str) -> list[Reply]:
        """Runs the matching command, else the active flow's step, else the help menu."""
        t = ctx.t
        in_flow = ctx.state is not None
        if ctx.inbound.images:
            # Photos are evidence for a report, whatever flow (if any) is open.
            return self._run(self.commands["photo"], ctx, text)
        paused = ctx.state.data.get(PAUSED) if ctx.state is not None else None
        if in_flow and text.lower() in CANCEL_WORDS:
            return self._resume_paused(ctx, paused, self._run(self.commands["cancel"], ctx, ""))
        if in_flow and text.lower() in BACK_WORDS:
            return self._back(ctx)
        command, args = self._match(text, in_flow=in_flow)
        if command is not None:
            if in_flow:
                return self._interrupt(ctx, command, args)
            return self._run(command, ctx, args)
        if ctx.state is not None:
            router = self.routers.get(ctx.state.flow)
            step = router.steps.get(ctx.state.step) if router else None
            if step is None:
                ctx.end()
                return [Reply(t("That conversation can no longer continue; please start again."))]
            if not text:
                return [Reply(t("Your message was empty.")), *self._ask_again(ctx)]
            return self._resume_paused(ctx, paused, step(ctx, text))
        if not text:
            return [Reply(t("Your message was empty. Send /help to see what I can do."))]
        if text.startswith("/"):
            return [
                Reply(t("Unknown command {command}.", command=text.split(maxsplit=1)[0][:32])),
                *self._help(ctx),
            ]
        if (
            BARE_CODE.fullmatch(text)
            and ctx.member is not None
            and ctx.services.checkin_open_today(ctx.member)
        ):
            return self._run(self.commands["checkin"], ctx, text)
        return self._help(ctx)

    def _interrupt(self, ctx: Context, command: Command, args: str) -> list[Reply]:
        """Runs a command sent during a flow; the flow's draft is kept and the member told how."""
        held = ctx.state
        assert held is not None
        flow = self._flow_of(command)
        if flow == held.flow:
            if not args and self._resumable(flow):
                # The flow's own command goes on with the draft instead of starting over.
                return self._ask_again(ctx)
            # With an argument it is the whole request ("语言 en" while choosing a language).
            return self._run(command, ctx, args)
        paused = held.data.pop(PAUSED, None)
        if isinstance(paused, dict) and flow == paused.get("flow") and self._resumable(flow):
            # Back to the draft this flow interrupted; the current one waits in its place.
            ctx.state = State(str(paused["flow"]), str(paused["step"]), dict(paused["data"]))
            ctx.state.data[PAUSED] = {"flow": held.flow, "step": held.step, "data": held.data}
            return [self._kept_note(ctx, held.flow), *self._ask_again(ctx)]
        if paused is not None:
            held.data[PAUSED] = paused
        replies = self._run(command, ctx, args)
        if ctx.state is held and not ctx.ended:
            return [*replies, self._kept_note(ctx, held.flow)]
        if ctx.state is None or ctx.state is held:
            # The command finished (or ended a flow of its own): the draft goes on as it was.
            ctx.state, ctx.ended = held, False
            return [*replies, self._kept_note(ctx, held.flow)]
        ctx.state.data[PAUSED] = {"flow": held.flow, "step": held.step, "data": held.data}
        return [*replies, self._kept_note(ctx, held.flow)]

    def _resume_paused(self, ctx: Context, paused: object, replies: list[Reply]) -> list[Reply]:
        """After a flow ended, returns to the draft it had interrupted (if any)."""
        if ctx.state is not None or not isinstance(paused, dict):
            return replies
        flow = str(paused.get("flow", ""))
        if flow not in self.routers or str(paused.get("step")) not in self.routers[flow].steps:
            return replies
        ctx.state = State(flow, str(paused["step"]), dict(paused.get("data") or {}))
        ctx.ended = False
        back = Reply(ctx.t("Back to your unfinished {flow}:", flow=ctx.flow_name(flow)))
        return [*replies, back, *self._ask_again(ctx)]

    def _kept_note(self, ctx: Context, flow: str) -> Reply:
        """Says that a flow's draft is kept and which word goes back to it."""
        # In the language just chosen, when the interrupting command was 语言 en.
        t = translator(ctx.services.new_locale) if ctx.services.new_locale else ctx.t
        return Reply(
            t(
                "Your unfinished {flow} is kept: send {word} to go back to it.",
                flow=t(self.flow_titles.get(flow, UNKNOWN_FLOW)),
                word=self._start_word(t, flow),
            )
        )

    def _start_word(self, t: Translator, flow: str) -> str:
        """Returns what a member sends to start (or go back to) a flow, in their language."""
        router = self.routers.get(flow)
        if router is None or not router.commands:
            return "/help"
        command = router.commands[0]
        if t.locale.startswith("zh") and command.keywords:
            return command.keywords[0]
        return f"/{command.name}"

    def _flow_of(self, command: Command) -> str:
        """Names the flow whose router holds a command."""
        return next(
            (flow for flow, router in self.routers.items() if command in router.commands), ""
        )

    def _resumable(self, flow: str) -> bool:
        """Tells whether a flow can ask its current question again."""
        router = self.routers.get(flow)
        return router is not None and router.on_back is not None

    def _ask_again(self, ctx: Context) -> list[Reply]:
        """Asks the current step's question of the active flow again."""
        assert ctx.state is not None
        router = self.routers.get(ctx.state.flow)
        if router is None or router.on_back is None:
            return []
        return router.on_back(ctx)

    def _attempted(self, text: str, state: State | None) -> str:
        """Names what a refused message tried, for the audit log: its command, else its flow."""
        command, _ = self._match(text, in_flow=state is not None)
        if command is not None:
            return f"command:{command.name}"
        return f"flow:{state.flow}" if state is not None else "message"

    def _match(self, text: str, *, in_flow: bool) -> tuple[Command | None, str]:
        """Finds the command a text invokes, with its argument; keywords are read case-blind."""
        if text.startswith("/"):
            head, _, args = text[1:].partition(" ")
            name = head.split("@", 1)[0].lower()
            return self.commands.get(name), args.strip()
        lowered = text.lower()
        if len(lowered) != len(text):
            lowered = text
        candidates = self._keywords_from.get(lowered[:1], ())
        for keyword, command in candidates:
            if lowered == keyword or (
                lowered.startswith(keyword) and text[len(keyword) :].strip("".join(ENDINGS)) == ""
            ):
                return command, ""
        for keyword, command in candidates:
            if lowered.startswith(keyword):
                rest = text[len(keyword) :]
                if rest.startswith(SEPARATORS) or (rest[0].isascii() and not keyword.isascii()):
                    args = rest.lstrip("".join(SEPARATORS))
                    if in_flow and not _argument(args):
                        # Inside a flow a keyword opening a sentence is the flow's answer (a
                        # reason or summary that merely starts with one), not a command.
                        continue
                    return command, args
        return None, ""

    def _run(self, command: Command, ctx: Context, args: str) -> list[Reply]:
        """Checks who may run a command, then runs it."""
        t = ctx.t
        if command.needs_member and ctx.member is None:
            return [
                Reply(
                    t("You are not bound to a member yet. Send /bind followed by your invite code.")
                )
            ]
        if command.leads_only and ctx.member is not None and not ctx.member.leads:
            ctx.services.audit(
                actor_id=ctx.member.id, action="denied", subject=f"command:{command.name}"
            )
            return [Reply(t("Only the branch secretary or deputy secretary can do that."))]
        return command.handler(ctx, args)

    def _back(self, ctx: Context) -> list[Reply]:
        """Returns the flow to its previous step and asks that step's question again."""
        assert ctx.state is not None
        router = self.routers.get(ctx.state.flow)
        if router is None or router.on_back is None:
            return [Reply(ctx.t("This is the first step; send cancel to stop."))]
        if ctx.back() is None:
            return [
                Reply(ctx.t("This is the first step; send cancel to stop.")),
                *router.on_back(ctx),
            ]
        return router.on_back(ctx)

    def _help(self, ctx: Context) -> list[Reply]:
        """Shows the help menu."""
        return self._run(self.commands["help"], ctx, "")

    def _store_state(
        self,
        ctx: Context,
        services: Services,
        before: tuple[str, str] | None,
        replies: list[Reply],
    ) -> None:
        """Saves, moves or clears the flow's state after a handler ran."""
        inbound = ctx.inbound
        key = ConversationKey(inbound.channel, inbound.chat_id, inbound.user_id)
        if ctx.state is None:
            if before is not None:
                services.conversations.clear(key)
            return
        router = self.routers.get(ctx.state.flow)
        private = inbound.private_chat_id
        if inbound.is_group and private and router and ctx.state.step in router.private_steps:
            # Private steps continue in the member's private chat, which the channel names.
            services.conversations.clear(key)
            services.conversations.save(
                ConversationKey(inbound.channel, private, inbound.user_id), ctx.state
            )
            replies[:] = [replace(reply, private=True) for reply in replies]
            replies.insert(
                0, Reply(ctx.t("Let's continue in a private chat: I've sent you a message there."))
            )
            return
        services.conversations.save(key, ctx.state)


def dump_answer(user_id: str, replies: Sequence[Reply], locale: str) -> str:
    """Serializes an answer for storage with its delivery keys (files are not kept)."""
    return _ANSWER_JSON.encode(
        {
            "user": user_id,
            "locale": locale,
            "replies": [
                {
                    "text": reply.text,
                    "buttons": [[[b.label, b.data] for b in row] for row in reply.buttons],
                    "private": reply.private,
                }
                for reply in replies
            ],
        }
    )


def load_answer(stored: str | None, *, user_id: str) -> tuple[list[Reply], str]:
    """Reads a stored answer back; nothing when there is none or it was for another sender."""
    if not stored:
        return [], ""
    try:
        data = json.loads(stored)
        if data.get("user") != user_id:
            return [], ""
        replies = [
            Reply(
                str(item["text"]),
                buttons=tuple(
                    tuple(Button(str(label), str(value)) for label, value in row)
                    for row in item["buttons"]
                ),
                private=bool(item["private"]),
            )
            for item in data["replies"]
        ]
        return replies, str(data.get("locale") or "")
    except (ValueError, KeyError, TypeError, AttributeError):
        log.warning("unreadable stored answer: not replayed")
        return [], ""


def menu_description(t: Translator, command: Command) -> str:
    """Describes a command for a platform's menu, which everyone sees: with who may use it."""
    description = t(command.description)
    if command.leads_only:
        return t("{description} (secretaries and deputy secretaries)", description=description)
    if command.roles:
        roles = [t(ROLES[role]) for role in sorted(command.roles, key=list(RoleKind).index)]
        return t("{description} (for {roles})", description=description, roles=t.join(roles))
    return description


def _argument(text: str) -> bool:
    """Tells whether text after a keyword reads as a command's argument, not as a sentence."""
    # One short word or code ("472264", "en", "上季度", "2025Q1"); prose has more.
    return (
        bool(text)
        and len(text) <= 16
        and " " not in text.strip()
        and not any(char in "，。；！？,.;!?" for char in text)
    )


def _with_option(inbound: Inbound, options: Sequence[str] | None) -> Inbound:
    """Turns a typed number into the button it stood for among the options offered last."""
    if not options or not inbound.text or inbound.button is not None:
        return inbound
    chosen = pick_option(inbound.text, options)
    return inbound if chosen is None else replace(inbound, button=chosen)
