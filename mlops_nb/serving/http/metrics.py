"""Prometheus metrics of the model server, served at ``GET /metrics``.

Each application has a registry of its own (a :class:`~prometheus_client.CollectorRegistry`,
not the process-wide default one), so that several servers in one process,
a notebook's or a test suite's, count apart. The series:

* ``mlops_nb_requests_total{route, method, status}``: answered requests, by
  route template (``/v2/models/{name}/infer``, not the path sent; ``other``
  for paths that match no route; a 401 of the token check counts under the
  route it asked for), method and status code;
* ``mlops_nb_request_duration_seconds{route}``: a histogram of the time from
  the request's arrival to the end of its answer;
* ``mlops_nb_rows_scored_total{route}``: rows answered with predictions;
* ``mlops_nb_refusals_total{check}``: requests refused because records broke
  the contract, once per check that failed in them (``in_range(18, 100)``,
  ``not_nullable``, ``column_in_schema``...);
* ``mlops_nb_batch_rows`` and ``mlops_nb_batch_requests``: histograms of the
  rows and of the requests in each call of the model (see ``batching``);
* ``mlops_nb_worker_restarts_total``: model worker processes started again
  after one died;
* ``mlops_nb_model_info{model, version}``: 1, naming the served version.

:class:`RequestObserver` is the ASGI middleware that counts and times every
request (and writes the access log, see ``access_log``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mlops_nb.validation.fast import Checked

__all__ = ["CONTENT_TYPE", "RequestObserver", "ServerMetrics", "request_notes"]

CONTENT_TYPE = CONTENT_TYPE_LATEST
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 10_000)
OTHER_ROUTE = "other"
NOTES = "mlops_nb"
"""The key of the request's ``scope`` where routes leave rows and request id for the log."""


def request_notes(scope: Scope) -> dict[str, Any]:
    """What a route tells the observer about its request (``rows``, ``request_id``)."""
    notes: dict[str, Any] = scope.setdefault(NOTES, {})
    return notes


class _Restarts(Collector):
    """``mlops_nb_worker_restarts_total``, read from the worker when scraped."""

    def __init__(self, restarts: Callable[[], int]) -> None:
        self._restarts = restarts

    def collect(self) -> Iterable[Metric]:
        family = CounterMetricFamily(
            "mlops_nb_worker_restarts",
            "Model worker processes started again after one died.",
        )
        family.add_metric([], self._restarts())
        yield family


class ServerMetrics:
    """The metrics of one application (see the module for the series).

    Args:
        model: The model name.
        version: The served version.
        restarts: Returns how many times the model worker was restarted.
    """

    def __init__(self, model: str, version: int, restarts: Callable[[], int]) -> None:
        self.registry = registry = CollectorRegistry()
        self.requests = Counter(
            "mlops_nb_requests",
            "Requests answered, by route, method and status code.",
            ["route", "method", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "mlops_nb_request_duration_seconds",
            "Seconds from a request's arrival to the end of its answer.",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.rows = Counter(
            "mlops_nb_rows_scored",
            "Rows answered with predictions, by route.",
            ["route"],
            registry=registry,
        )
        self.refusals = Counter(
            "mlops_nb_refusals",
            "Requests refused by the input contract, once per check that failed in them.",
            ["check"],
            registry=registry,
        )
        self.batch_rows = Histogram(
            "mlops_nb_batch_rows",
            "Rows in each call of the model (requests are batched together).",
            buckets=SIZE_BUCKETS,
            registry=registry,
        )
        self.batch_requests = Histogram(
            "mlops_nb_batch_requests",
            "Requests in each call of the model.",
            buckets=SIZE_BUCKETS,
            registry=registry,
        )
        info = Gauge(
            "mlops_nb_model_info",
            "The served model version (always 1).",
            ["model", "version"],
            registry=registry,
        )
        info.labels(model=model, version=str(version)).set(1)
        registry.register(_Restarts(restarts))

    def observe_batch(self, requests: int, rows: int) -> None:
        """Count one call of the model with ``requests`` requests of ``rows`` rows in all."""
        self.batch_requests.observe(requests)
        self.batch_rows.observe(rows)

    def refused(self, checked: Checked) -> None:
        """Count a request refused by the contract, once per distinct failed check."""
        for check in sorted({error.check for error in checked.errors}):
            self.refusals.labels(check=check).inc()

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one answered request."""
        self.requests.labels(route=route, method=method, status=str(status)).inc()
        self.latency.labels(route=route).observe(seconds)

    def scored(self, route: str, rows: int) -> None:
        """Count ``rows`` rows answered with predictions on ``route``."""
        self.rows.labels(route=route).inc(rows)

    def exposition(self) -> bytes:
        """The metrics in Prometheus' text format."""
        return generate_latest(self.registry)


def route_of(scope: Scope, routes: Sequence[BaseRoute] = ()) -> str:
    """The route template that matched the request (``other`` if none did).

    A request answered before routing (a 401 of the token check) has no
    route in its ``scope``: it gets the first of ``routes`` that matches it.
    """
    route = scope.get("route")
    if route is None:
        route = next((r for r in routes if r.matches(scope)[0] == Match.FULL), None)
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else OTHER_ROUTE


Finished = Callable[[Scope, int, float], None]
"""Told of each answered request: its scope, status and seconds taken."""


class RequestObserver:
    """ASGI middleware: times each HTTP request and tells ``finished`` its status.

    It is the outermost layer, so refusals by the token check are seen too;
    an error no handler answered counts as a 500 (the server error handler
    outside answers it so).
    """

    def __init__(self, app: ASGIApp, finished: list[Finished]) -> None:
        self.app, self.finished = app, finished

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            elapsed = time.perf_counter() - started
            for finished in self.finished:
                finished(scope, status, elapsed)
