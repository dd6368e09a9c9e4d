"""Process metrics the layers record and `/metrics` exposes: counters, gauges and histograms.

Plain, thread-safe numbers in the standard library, so that every layer may record them; the web
layer renders them in the Prometheus format (`bot.web.metrics`).
"""

from __future__ import annotations

import bisect
import threading
from dataclasses import dataclass, field

Labels = tuple[str, ...]
# Seconds: a console answer takes milliseconds, a webhook answer must come within WeChat's 5 s.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
TICK_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


@dataclass
class Counter:
    """A number that only goes up, per label values."""

    name: str
    help: str
    labels: Labels = ()
    values: dict[Labels, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def inc(self, *label_values: str, amount: float = 1.0) -> None:
        """Adds `amount` for these label values."""
        with self.lock:
            self.values[label_values] = self.values.get(label_values, 0.0) + amount

    def snapshot(self) -> dict[Labels, float]:
        """Returns the current values."""
        with self.lock:
            return dict(self.values)


@dataclass
class Gauge:
    """A number that is set, per label values."""

    name: str
    help: str
    labels: Labels = ()
    values: dict[Labels, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def set(self, value: float, *label_values: str) -> None:
        """Sets the value for these label values."""
        with self.lock:
            self.values[label_values] = value

    def snapshot(self) -> dict[Labels, float]:
        """Returns the current values."""
        with self.lock:
            return dict(self.values)


@dataclass(frozen=True, slots=True)
class HistogramValue:
    """One label set's observations: counts per bucket (not cumulative), sum and count."""

    buckets: tuple[int, ...]
    total: float
    count: int


@dataclass
class Histogram:
    """Observations counted into buckets, per label values."""

    name: str
    help: str
    labels: Labels = ()
    bounds: tuple[float, ...] = LATENCY_BUCKETS
    values: dict[Labels, tuple[list[int], list[float]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def observe(self, value: float, *label_values: str, times: int = 1) -> None:
        """Counts an observation (`times` alike, say a group's) for these label values."""
        index = bisect.bisect_left(self.bounds, value)
        with self.lock:
            counts, total = self.values.setdefault(
                label_values, ([0] * (len(self.bounds) + 1), [0.0])
            )
            counts[index] += times
            total[0] += value * times

    def snapshot(self) -> dict[Labels, HistogramValue]:
        """Returns the current observations."""
        with self.lock:
            return {
                key: HistogramValue(tuple(counts), total[0], sum(counts))
                for key, (counts, total) in self.values.items()
            }


UPDATES = Counter("gongjian_updates_total", "Inbound messages answered, by channel.", ("channel",))
ANSWER_SECONDS = Histogram(
    "gongjian_answer_seconds", "Time to answer one inbound message, by channel.", ("channel",)
)
PUSHES = Counter(
    "gongjian_pushes_total",
    "Outbox pushes by outcome: sent, retried (failed, to be tried again), dead, held,"
    " undeliverable.",
    ("outcome",),
)
FLOOD_WAITS = Counter(
    "gongjian_flood_waits_total",
    "Platform flood-control answers (HTTP 429, retry_after), by channel.",
    ("channel",),
)
LEADER = Gauge("gongjian_scheduler_leader", "1 while this process is the elected scheduler.")
TICK_SECONDS = Histogram(
    "gongjian_tick_seconds", "Duration of one scheduler planning tick.", bounds=TICK_BUCKETS
)
COUNTERS = (UPDATES, PUSHES, FLOOD_WAITS)
GAUGES = (LEADER,)
HISTOGRAMS = (ANSWER_SECONDS, TICK_SECONDS)
