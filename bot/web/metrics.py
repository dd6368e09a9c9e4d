"""`/metrics` in the Prometheus format, on its own port so it is never public by accident.

Off unless `GONGJIAN_METRICS_PORT` is set; it listens on `GONGJIAN_METRICS_HOST` (127.0.0.1 by
default), apart from the webhooks' server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator, Sequence
from itertools import accumulate

import uvicorn
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bot.config import Settings
from bot.core.metrics import COUNTERS, GAUGES, HISTOGRAMS
from storage.engine import Database
from storage.outbox import count_by_status

log = logging.getLogger(__name__)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class GongjianCollector(Collector):
    """Reads the process metrics, and the outbox depth from the database, at each scrape."""

    def __init__(self, database: Database | None) -> None:
        self.database = database

    def collect(self) -> Iterator[Metric]:
        """Yields every metric family."""
        for counter in COUNTERS:
            family = CounterMetricFamily(
                counter.name.removesuffix("_total"), counter.help, labels=counter.labels
            )
            for labels, value in sorted(counter.snapshot().items()):
                family.add_metric(list(labels), value)
            yield family
        for gauge in GAUGES:
            gauge_family = GaugeMetricFamily(gauge.name, gauge.help, labels=gauge.labels)
            for labels, value in sorted(gauge.snapshot().items()):
                gauge_family.add_metric(list(labels), value)
            yield gauge_family
        for histogram in HISTOGRAMS:
            histogram_family = HistogramMetricFamily(
                histogram.name, histogram.help, labels=histogram.labels
            )
            bounds = [*(str(bound) for bound in histogram.bounds), "+Inf"]
            for labels, observed in sorted(histogram.snapshot().items()):
                cumulative = list(accumulate(observed.buckets))
                histogram_family.add_metric(
                    list(labels), list(zip(bounds, cumulative, strict=True)), observed.total
                )
            yield histogram_family
        if self.database is not None:
            yield self._outbox()

    def _outbox(self) -> Metric:
        """Counts the outbox rows per status (the delivery backlog and its dead letters)."""
        family = GaugeMetricFamily(
            "gongjian_outbox_messages", "Outbox pushes per status.", labels=("status",)
        )
        assert self.database is not None
        try:
            with self.database.session() as session:
                counts = count_by_status(session)
        except Exception:
            log.warning("cannot count the outbox for /metrics", exc_info=True)
            return family
        for status, number in sorted(counts.items()):
            family.add_metric([status.value], number)
        return family


def render(database: Database | None) -> bytes:
    """Renders every metric in the Prometheus text format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(GongjianCollector(database))
    return generate_latest(registry)


def metrics_app(database: Database | None) -> Starlette:
    """Builds the metrics server's app: GET /metrics, nothing else."""

    async def metrics(request: Request) -> Response:
        """Answers a scrape."""
        body = await asyncio.to_thread(render, database)
        return Response(body, media_type=CONTENT_TYPE)

    return Starlette(routes=[Route("/metrics", metrics, methods=["GET"])])


class _Server(uvicorn.Server):
    """A uvicorn server that leaves the process's signals to `serve`: it stops when told."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Captures nothing."""
        yield


class MetricsService:
    """Serves /metrics on its own host and port while `gongjian run` runs."""

    name = "metrics"

    def __init__(self, settings: Settings, database: Database) -> None:
        assert settings.metrics_port is not None
        self.host, self.port = settings.metrics_host, settings.metrics_port
        config = uvicorn.Config(
            metrics_app(database),
            host=self.host,
            port=self.port,
            lifespan="off",
            log_config=None,
            access_log=False,
            server_header=False,
        )
        self.server = _Server(config)
        self.task: asyncio.Task[None] | None = None

    @property
    def routes(self) -> Sequence[BaseRoute]:
        """Nothing on the public server."""
        return ()

    async def start(self) -> None:
        """Starts listening; returns once the server is up."""
        self.task = asyncio.create_task(self.server.serve(), name="metrics-server")
        while not self.server.started:
            if self.task.done():
                await self.task  # raises the bind error
                raise OSError(f"metrics server on {self.host}:{self.port} stopped")
            await asyncio.sleep(0.01)
        log.debug("Serving /metrics on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        """Stops listening."""
        self.server.should_exit = True
        if self.task is not None:
            await self.task


def metrics_services(settings: Settings, database: Database) -> list[MetricsService]:
    """Returns the metrics server when `GONGJIAN_METRICS_PORT` is set, else nothing."""
    if settings.metrics_port is None:
        return []
    return [MetricsService(settings, database)]
