"""/metrics: what it counts, the Prometheus format, and that it is served only on its own port."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from bot.channels.http import build_http_app
from bot.config import Settings
from bot.core.clock import FrozenClock
from bot.core.inbound import Channel, Inbound
from bot.core.metrics import ANSWER_SECONDS, FLOOD_WAITS, LEADER, PUSHES, UPDATES
from bot.core.ports import DeliveryStatus, SendResult
from bot.engine.assistant import Assistant
from bot.engine.group_commit import Delivery
from bot.web.metrics import MetricsService, metrics_services, render
from scheduler.delivery import RetryPolicy
from scheduler.service import ReminderService, plan_tick
from storage.engine import Database
from tests.factories import World
from tests.helpers import Chat
from tests.scheduler.test_delivery import EVENING, ScriptedSender, delivery
from tests.scheduler.test_rules import HOLIDAYS, give_accounts
from tests.test_deploy import free_port


def samples(database: Database | None) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Scrapes the metrics as Prometheus would and indexes the samples by name and labels."""
    text = render(database).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_answers_are_counted_and_timed_per_channel(chat: Chat, world: World) -> None:
    before = UPDATES.snapshot().get(("console",), 0.0)
    timed = ANSWER_SECONDS.snapshot().get(("console",))
    chat.say("帮助")
    chat.say("/lang en")
    assert UPDATES.snapshot()[("console",)] == before + 2
    after = ANSWER_SECONDS.snapshot()[("console",)]
    assert after.count == (timed.count if timed else 0) + 2
    scraped = samples(None)
    assert scraped[("gongjian_updates_total", (("channel", "console"),))] == before + 2
    count = scraped[("gongjian_answer_seconds_count", (("channel", "console"),))]
    assert count == after.count
    assert (
        scraped[("gongjian_answer_seconds_bucket", (("channel", "console"), ("le", "+Inf")))]
        == count
    )


def test_a_groups_answers_are_counted_once_per_channel_with_the_groups_time(
    assistant: Assistant, world: World
) -> None:
    telegram = [("telegram",), ANSWER_SECONDS.snapshot().get(("telegram",))]
    wechat = [("wechat",), ANSWER_SECONDS.snapshot().get(("wechat",))]
    before = {key: UPDATES.snapshot().get(key, 0.0) for key in (("telegram",), ("wechat",))}
    assistant._answer_group(
        [
            Delivery(Inbound(Channel.TELEGRAM, chat_id="1", user_id="1", text="/help")),
            Delivery(Inbound(Channel.WECHAT, chat_id="o1", user_id="o1", text="帮助")),
            Delivery(Inbound(Channel.WECHAT, chat_id="o2", user_id="o2", text="帮助")),
        ]
    )
    after = UPDATES.snapshot()
    assert after[("telegram",)] == before[("telegram",)] + 1
    assert after[("wechat",)] == before[("wechat",)] + 2
    for (key, timed), added in ((telegram, 1), (wechat, 2)):
        now = ANSWER_SECONDS.snapshot()[key]  # type: ignore[index]
        assert now.count == (timed.count if timed else 0) + added  # type: ignore[union-attr]
        assert sum(now.buckets) == now.count


async def test_pushes_failures_dead_letters_and_429s_are_counted(
    database: Database, world: World, clock: FrozenClock, settings: Settings
) -> None:
    give_accounts(database, world, ("m1", "m2"))
    clock.set(EVENING)
    plan_tick(database, now=EVENING, holidays=HOLIDAYS, settings=settings)
    before = PUSHES.snapshot()
    waits = FLOOD_WAITS.snapshot().get(("console",), 0.0)
    sender = ScriptedSender(
        Channel.CONSOLE,
        {
            "m1": [SendResult(DeliveryStatus.RETRY, "timeout")],
            "m2": [SendResult(DeliveryStatus.RETRY, "flood", retry_after=5)],
        },
    )
    loop = delivery(database, clock, sender, retry=RetryPolicy(max_attempts=1))
    report = await loop.run_once()
    after = PUSHES.snapshot()

    def added(outcome: str) -> float:
        return after.get((outcome,), 0.0) - before.get((outcome,), 0.0)

    assert (added("dead"), added("held"), added("sent")) == (report.dead, report.held, report.sent)
    assert report.dead >= 1 and report.held >= 1
    assert FLOOD_WAITS.snapshot()[("console",)] == waits + 1
    scraped = samples(database)
    assert scraped[("gongjian_outbox_messages", (("status", "dead"),))] == report.dead
    assert scraped[("gongjian_flood_waits_total", (("channel", "console"),))] == waits + 1
    assert scraped[("gongjian_pushes_total", (("outcome", "dead"),))] == after[("dead",)]


async def test_the_elected_scheduler_reports_leadership_and_tick_time(
    database: Database, world: World, clock: FrozenClock, settings: Settings
) -> None:
    # Elected for sure: the lock itself is the leader tests' business.
    service = ReminderService(
        database=database,
        clock=clock,
        settings=settings,
        holidays=HOLIDAYS,
        leadership=_Elected(),
    )
    try:
        assert await service.check_leader()
        assert LEADER.snapshot()[()] == 1.0
        scraped = samples(None)
        assert scraped[("gongjian_scheduler_leader", ())] == 1.0
        assert scraped[("gongjian_tick_seconds_count", ())] >= 1
    finally:
        service.close()
    assert LEADER.snapshot()[()] == 0.0


def test_metrics_are_off_unless_a_port_is_given(settings: Settings, database: Database) -> None:
    assert settings.metrics_port is None
    assert metrics_services(settings, database) == []


async def test_metrics_listen_on_their_own_port_not_on_the_webhooks_server(
    settings: Settings, database: Database
) -> None:
    port = free_port()
    enabled = settings.model_copy(update={"metrics_port": port})
    [service] = metrics_services(enabled, database)
    assert isinstance(service, MetricsService) and service.host == "127.0.0.1"
    await service.start()
    try:
        async with httpx.AsyncClient() as client:
            scrape = await client.get(f"http://127.0.0.1:{port}/metrics")
            other = await client.get(f"http://127.0.0.1:{port}/healthz")
    finally:
        await service.stop()
    assert scrape.status_code == 200
    assert scrape.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert "# TYPE gongjian_outbox_messages gauge" in scrape.text
    assert other.status_code == 404
    public = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=build_http_app(_Healthy())), base_url="http://test"
    )
    async with public:
        assert (await public.get("/metrics")).status_code == 404


class _Healthy:
    """A core whose database always answers."""

    def healthy(self) -> bool:
        return True


class _Elected:
    """A leadership that is always won."""

    def acquire(self) -> bool:
        return True

    def release(self) -> None:
        pass

    def dispose(self) -> None:
        pass
