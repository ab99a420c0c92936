"""What the server is doing, for Prometheus (``GET /metrics``) and the admin page (``GET /v1/metrics/summary``).

Each server has a registry of its own (several servers may share a process: the tests start more than one),
holding three kinds of figures:
- counted as requests pass: requests by method, route template and status (``RequestMetrics``, a pure ASGI
  middleware), and per model the tokens read and generated, time to first token and the gaps between tokens
  (``ServerMetrics.answered``, once per answer, from the times the engine noted);
- read at each scrape from what already keeps them (``_Live``): loaded models, requests in flight and
  waiting, the engines' KV cache, fine-tuning jobs and the running job's step; nothing on a request's path;
- derived for the admin page from the registry itself (``summary``), so both views say the same.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import fields

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.orm import Session, sessionmaker
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from caretune.engines.base import EngineStats, TokenTimes
from caretune.errors import CaretuneError
from caretune.runs.info import RunInfo
from caretune.server.engine_pool import EnginePool
from caretune.server.protocol.metrics import JobProgress, MetricsSummary
from caretune.storage.jobs import ACTIVE, Job, jobs_by_status, latest_step, oldest_with_status

# Seconds; a small model on a CPU answers its first token in tens of milliseconds, a long prompt in seconds.
TTFT_BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0)
ITL_BUCKETS = (0.005, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0, 2.5)
# Not counted: Prometheus's own scrapes and the admin page's polling would outnumber the traffic.
UNCOUNTED_ROUTES = frozenset({"/metrics", "/v1/metrics/summary"})
STATIC_ROUTE = "/{path}"  # the chat app's pages, and whatever no API route matched
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class ServerMetrics:
    """The server's registry and the figures counted as requests pass."""

    def __init__(self, engines: EnginePool, sessions: sessionmaker[Session]) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "caretune_requests", "HTTP requests by method, route template and status.",
            ["method", "route", "status"], registry=self.registry,
        )
        self._stream_errors = Counter(
            "caretune_stream_errors", "Streamed answers that failed after their 200 status was sent.",
            ["model"], registry=self.registry,
        )
        self._prompt_tokens = Counter(
            "caretune_prompt_tokens", "Prompt tokens read, by model.", ["model"], registry=self.registry
        )
        self._generation_tokens = Counter(
            "caretune_generation_tokens", "Tokens generated (every candidate), by model.", ["model"],
            registry=self.registry,
        )
        self._ttft = Histogram(
            "caretune_time_to_first_token_seconds",
            "From the server taking a request for a model (a first load included) to the answer's first text.",
            ["model"], buckets=TTFT_BUCKETS, registry=self.registry,
        )
        self._itl = Histogram(
            "caretune_inter_token_latency_seconds", "Between the texts of an answer after its first.",
            ["model"], buckets=ITL_BUCKETS, registry=self.registry,
        )
        self.registry.register(_Live(engines, sessions))

    def answered(self, model: str, prompt_tokens: int, completion_tokens: int, times: TokenTimes) -> None:
        """Count one answer of ``model``: its tokens, and its latencies if it generated text."""
        self._prompt_tokens.labels(model).inc(prompt_tokens)
        self._generation_tokens.labels(model).inc(completion_tokens)
        if times.first_token is not None:
            self._ttft.labels(model).observe(times.first_token)
        if times.gaps:
            itl = self._itl.labels(model)
            for gap in times.gaps:
                itl.observe(gap)

    def stream_failed(self, model: str) -> None:
        """Count a stream that ended with an error event."""
        self._stream_errors.labels(model).inc()

    def summary(self) -> MetricsSummary:
        """The admin page's headline figures, read from the registry (one scrape), so they are the figures
        Prometheus gets."""
        samples = _Samples(self.registry)
        step = samples.by_label("caretune_fine_tuning_job_step", "job")
        planned = samples.by_label("caretune_fine_tuning_job_planned_steps", "job")
        return MetricsSummary(
            requests=samples.total("caretune_requests_total", _api),
            errors=samples.total("caretune_requests_total", _failed) + samples.total("caretune_stream_errors_total"),
            time_to_first_token_p50=samples.quantile(0.5, "caretune_time_to_first_token_seconds"),
            answers_timed=samples.total("caretune_time_to_first_token_seconds_count"),
            prompt_tokens=samples.total("caretune_prompt_tokens_total"),
            completion_tokens=samples.total("caretune_generation_tokens_total"),
            models_loaded=sorted(samples.by_label("caretune_model_loaded", "model")),
            jobs=samples.by_label("caretune_fine_tuning_jobs", "status"),
            running_jobs=[JobProgress(id=job, step=step[job], planned_steps=planned.get(job)) for job in sorted(step)],
        )


def _api(labels: dict[str, str]) -> bool:
    return labels["route"].startswith("/v1")  # not the chat app's pages


def _failed(labels: dict[str, str]) -> bool:
    return _api(labels) and int(labels["status"]) >= 400


class _Samples:
    """A registry's samples at one moment, summed the way the admin page needs them."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._samples = [sample for family in registry.collect() for sample in family.samples]

    def _named(self, name: str) -> list:
        return [sample for sample in self._samples if sample.name == name]

    def total(self, name: str, where: Callable[[dict[str, str]], bool] = lambda labels: True) -> int:
        return int(sum(sample.value for sample in self._named(name) if where(sample.labels)))

    def by_label(self, name: str, label: str) -> dict[str, int]:
        return {sample.labels[label]: int(sample.value) for sample in self._named(name)}

    def quantile(self, q: float, histogram: str) -> float | None:
        """The ``q`` quantile of a histogram over all its label values, interpolated within its bucket as
        Prometheus's ``histogram_quantile`` does; None without an observation."""
        counts: dict[float, float] = {}
        for sample in self._named(f"{histogram}_bucket"):
            bound = float(sample.labels["le"])
            counts[bound] = counts.get(bound, 0.0) + sample.value
        bounds = sorted(counts)
        if not bounds or counts[bounds[-1]] == 0:
            return None
        rank = q * counts[bounds[-1]]
        lower, below = 0.0, 0.0
        for bound in bounds:
            if counts[bound] >= rank:
                if bound == math.inf:
                    return lower  # past the largest finite bucket, whose bound is all that is known
                return lower + (bound - lower) * (rank - below) / (counts[bound] - below)
            lower, below = bound, counts[bound]
        return None


class _Live(Collector):
    """Figures read at each scrape from what keeps them: the engine pool, the engines, the jobs' table."""

    def __init__(self, engines: EnginePool, sessions: sessionmaker[Session]) -> None:
        self._engines = engines
        self._sessions = sessions

    def collect(self) -> Iterable[Metric]:
        yield from self._models()
        yield from self._jobs()

    def _models(self) -> Iterator[Metric]:
        loaded = GaugeMetricFamily("caretune_model_loaded", "1 for each model in memory.", labels=["model"])
        in_flight = GaugeMetricFamily(
            "caretune_requests_in_flight", "Requests holding one of the model's slots (--max-queue).", labels=["model"]
        )
        for model, count in self._engines.in_flight().items():
            in_flight.add_metric([model], count)
        stats = []
        for model, engine in self._engines.loaded_engines():
            loaded.add_metric([model], 1)
            stats.append((model, engine.stats()))
        yield loaded
        yield in_flight
        yield from _engine_figures(stats)

    def _jobs(self) -> Iterator[Metric]:
        by_status = GaugeMetricFamily("caretune_fine_tuning_jobs", "Unfinished fine-tuning jobs.", labels=["status"])
        step = GaugeMetricFamily("caretune_fine_tuning_job_step", "The running job's last logged step.", labels=["job"])
        planned = GaugeMetricFamily(
            "caretune_fine_tuning_job_planned_steps", "The running job's steps in all.", labels=["job"]
        )
        with self._sessions() as session:
            counts = jobs_by_status(session)
            running = oldest_with_status(session, "running")  # jobs run one at a time
            last = latest_step(session, running.id) if running is not None else None
        for status in ACTIVE:
            by_status.add_metric([status], counts.get(status, 0))
        if running is not None:
            step.add_metric([running.id], last or 0)
            total = _planned_steps(running)
            if total is not None:
                planned.add_metric([running.id], total)
        yield from (by_status, step, planned)


def _planned_steps(job: Job) -> int | None:
    """The steps the job's run will take, once its ``run.json`` is written (before its first step)."""
    try:
        return RunInfo.load(job.model_dir).total_steps
    except CaretuneError:
        return None


def _engine_figures(stats: list[tuple[str, EngineStats]]) -> Iterator[Metric]:
    """Each ``EngineStats`` field as ``caretune_<field>`` by model; a field every engine leaves None is left out."""
    for field in fields(EngineStats):
        kind = CounterMetricFamily if field.metadata["counted"] else GaugeMetricFamily
        family = kind(f"caretune_{field.name}", field.metadata["documentation"], labels=["model"])
        for model, figures in stats:
            value = getattr(figures, field.name)
            if value is not None:
                family.add_metric([model], value)
        if family.samples:
            yield family


class RequestMetrics:
    """ASGI middleware counting every HTTP request by method, route template and status when it ends.

    Pure ASGI (no ``BaseHTTPMiddleware``, which runs each request in a task of its own): per request it adds
    one wrapped ``send`` and a dictionary lookup for the counter of its labels."""

    def __init__(self, app: ASGIApp, metrics: ServerMetrics) -> None:
        self.app = app
        self._requests = metrics.requests
        self._counters: dict[tuple[str, str, int], object] = {}  # touched on the event loop only

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # what the client gets if the app raises before it answers

        async def sent(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sent)
        finally:
            self._count(scope, status)

    def _count(self, scope: Scope, status: int) -> None:
        route = _route_of(scope)
        if route in UNCOUNTED_ROUTES:
            return
        method = scope["method"] if scope["method"] in _METHODS else "other"
        key = (method, route, status)
        counter = self._counters.get(key)
        if counter is None:
            counter = self._counters[key] = self._requests.labels(method, route, str(status))
        counter.inc()


def _route_of(scope: Scope) -> str:
    """The template of the route that served the request (``/v1/files/{file_id}``), never the raw path, so
    ids do not multiply the series."""
    route = scope.get("route")
    if route is None or isinstance(route, Mount):
        return STATIC_ROUTE
    return getattr(route, "path", STATIC_ROUTE)
