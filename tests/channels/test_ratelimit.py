"""The outgoing rate limiter, on a manual clock: nothing here really sleeps."""

from __future__ import annotations

import asyncio

import pytest

from bot.channels.ratelimit import Limit, RateLimiter
from tests.fakes import ManualTime


class FloodError(Exception):
    """A platform's 'too many requests' answer."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"retry after {retry_after}")
        self.retry_after = retry_after


def flood_seconds(error: BaseException) -> float | None:
    """Reads the wait from a `FloodError`."""
    return error.retry_after if isinstance(error, FloodError) else None


def limiter(clock: ManualTime, **kwargs: object) -> RateLimiter:
    """A limiter with Telegram-like limits on the manual clock."""
    options: dict[object, object] = {
        "overall": (Limit(30, 1.0),),
        "per_chat": (Limit(1, 1.0),),
        "per_group": (Limit(20, 60.0),),
        "monotonic": clock.monotonic,
        "sleep": clock.sleep,
    }
    options.update(kwargs)
    return RateLimiter(**options)  # type: ignore[arg-type]


@pytest.fixture
def clock() -> ManualTime:
    """A clock that only moves when the limiter sleeps."""
    return ManualTime(start=0.0)


async def test_one_message_per_second_in_a_chat(clock: ManualTime) -> None:
    rl = limiter(clock)
    times = []
    for _ in range(3):
        await rl.acquire("42")
        times.append(clock.now)
    assert times == [0.0, 1.0, 2.0]


async def test_different_chats_do_not_wait_for_each_other(clock: ManualTime) -> None:
    rl = limiter(clock)
    for chat in range(30):
        await rl.acquire(str(chat))
    assert clock.now == 0.0
    assert clock.sleeps == []


async def test_thirty_messages_per_second_overall(clock: ManualTime) -> None:
    rl = limiter(clock)
    for chat in range(31):
        await rl.acquire(str(chat))
    assert clock.now == pytest.approx(1.0)


async def test_twenty_messages_per_minute_in_a_group(clock: ManualTime) -> None:
    rl = limiter(clock)
    for _ in range(21):
        await rl.acquire("-100", group=True)
    # 1/s per chat spaces the first 20 over 19 s; the 21st waits for the first to leave the minute.
    assert clock.now == pytest.approx(60.0)


async def test_unthrottled_calls_skip_the_windows(clock: ManualTime) -> None:
    rl = limiter(clock)
    await rl.acquire("42")
    await rl.acquire("42", throttle=False)
    assert clock.now == 0.0


async def test_concurrent_sends_to_one_chat_are_spaced(clock: ManualTime) -> None:
    rl = limiter(clock)
    stamps: list[float] = []

    async def send() -> None:
        await rl.acquire("7")
        stamps.append(clock.now)

    await asyncio.gather(*(send() for _ in range(4)))
    assert sorted(stamps) == [0.0, 1.0, 2.0, 3.0]


async def test_flood_answer_is_waited_out_and_retried(clock: ManualTime) -> None:
    rl = limiter(clock)
    answers: list[object] = [FloodError(5), FloodError(2), "sent"]

    async def call() -> str:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return str(answer)

    result = await rl.run(call, chat="42", retry_after_of=flood_seconds)
    assert result == "sent"
    assert clock.now == pytest.approx(7.0)


async def test_flood_pause_holds_other_sends_to_that_chat_only(clock: ManualTime) -> None:
    rl = limiter(clock)
    rl.pause(10, "42")
    await rl.acquire("43")
    assert clock.now == 0.0
    await rl.acquire("42")
    assert clock.now == pytest.approx(10.0)


async def test_pause_without_chat_holds_everything(clock: ManualTime) -> None:
    rl = limiter(clock)
    rl.pause(3)
    await rl.acquire("1")
    assert clock.now == pytest.approx(3.0)


async def test_gives_up_after_max_retries_with_the_platform_error(clock: ManualTime) -> None:
    rl = limiter(clock, max_retries=2)
    calls = 0

    async def call() -> None:
        nonlocal calls
        calls += 1
        raise FloodError(1)

    with pytest.raises(FloodError):
        await rl.run(call, chat="42", retry_after_of=flood_seconds)
    assert calls == 3


async def test_does_not_sleep_through_an_absurd_wait(clock: ManualTime) -> None:
    rl = limiter(clock, max_wait=60)

    async def call() -> None:
        raise FloodError(3600)

    with pytest.raises(FloodError):
        await rl.run(call, chat="42", retry_after_of=flood_seconds)
    assert clock.sleeps == []


async def test_other_errors_pass_through_untouched(clock: ManualTime) -> None:
    rl = limiter(clock)

    async def call() -> None:
        raise ValueError("bad request")

    with pytest.raises(ValueError, match="bad request"):
        await rl.run(call, chat="42", retry_after_of=flood_seconds)


async def test_idle_chats_are_forgotten(clock: ManualTime) -> None:
    rl = limiter(clock)
    for chat in range(1024):
        await rl.acquire(str(chat))
        clock.now += 0.1
    clock.now += 120
    for chat in range(1024):
        await rl.acquire(f"new-{chat}")
    assert len(rl._chats) < 1100


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Limit(0, 1.0)
    with pytest.raises(ValueError):
        Limit(1, 0)
