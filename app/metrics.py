"""Prometheus metrics (SPEC §3 Ops), one registry per app so that tests can build many apps."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func
from sqlmodel import Session, select
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.clock import Clock
from app.errors import internal_error
from app.events.timers import TimerStatus
from app.events.types import DeliveryStatus

log = logging.getLogger("dpa.metrics")

REQUEST_ID_HEADER = "x-request-id"
_REQUEST_ID_NAME = REQUEST_ID_HEADER.encode()
# A method outside these is counted as "other": a label value per method a client makes up
# would grow the registry without bound.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.requests = Counter(
            "dpa_http_requests",
            "HTTP requests served, by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "dpa_http_request_duration_seconds",
            "Time to serve a request, by route template.",
            ["route"],
            registry=self.registry,
        )
        self.attempts = Counter(
            "dpa_webhook_attempts",
            "Webhook delivery attempts, by outcome: success and failure made by this process, "
            "interrupted found by it (a stopped worker's claim it sends again).",
            ["outcome"],
            registry=self.registry,
        )

        # Each (method, route, status)'s counter and latency children: `labels()` looks them up
        # under a lock on every call, and every request counts itself.
        self._served: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def served(self, method: str, route: str, status: int, seconds: float) -> None:
        """A request answered: counted by method, route template and status; timed by route."""
        method = method if method in _METHODS else "other"
        children = self._served.get((method, route, status))
        if children is None:
            children = self._served[(method, route, status)] = (
                self.requests.labels(method, route, str(status)),
                self.latency.labels(route),
            )
        children[0].inc()
        children[1].observe(seconds)

    def watch_outbox(self, engine: Engine, clock: Clock) -> None:
        """Gauges read from the database at scrape time: true for every process."""
        self.registry.register(_OutboxCollector(engine, clock))


class _OutboxCollector(Collector):
    def __init__(self, engine: Engine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from app.events.models import Delivery, Timer

        try:
            with Session(self.engine) as session:
                by_status = session.exec(
                    select(Delivery.status, func.count()).group_by(Delivery.status)
                ).all()
                oldest = session.exec(
                    select(func.min(Delivery.created_at)).where(
                        Delivery.status == DeliveryStatus.pending.value
                    )
                ).one()
                timers = session.exec(
                    select(Timer.kind, func.count())
                    .where(Timer.status == TimerStatus.pending.value)
                    .group_by(Timer.kind)
                ).all()
        except Exception:
            log.warning("metrics: the database did not answer", exc_info=True)
            return
        deliveries = GaugeMetricFamily(
            "dpa_deliveries", "Webhook deliveries by status.", labels=["status"]
        )
        counts = dict.fromkeys([status.value for status in DeliveryStatus], 0) | dict(by_status)
        for status, count in counts.items():
            deliveries.add_metric([status], count)
        yield deliveries
        age = (self.clock.now() - oldest).total_seconds() if oldest is not None else 0.0
        yield GaugeMetricFamily(
            "dpa_delivery_oldest_pending_age_seconds",
            "Age of the oldest delivery not yet delivered.",
            value=max(age, 0.0),
        )
        pending = GaugeMetricFamily(
            "dpa_timers_pending", "Timers not yet fired, by kind.", labels=["kind"]
        )
        for kind, count in timers:
            pending.add_metric([kind], count)
        yield pending
        yield GaugeMetricFamily(
            "dpa_breach_timers_open",
            "Breach notices whose 72-hour timer runs: not yet delivered, breach open.",
            value=sum(count for kind, count in timers if kind == "breach.deadline"),
        )


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == _REQUEST_ID_NAME:
            candidate: str = value.decode("latin-1")
            if 0 < len(candidate) <= 100 and candidate.isprintable():
                return candidate
    return uuid.uuid4().hex


def _protective_headers(path: str, headers: list[Any]) -> list[tuple[bytes, bytes]]:
    """Every answer: no content sniffing. Every answer but the docs' static assets: not stored
    by any cache — API answers carry personal data and shown-once secrets (SPEC §13)."""
    extra = [(b"x-content-type-options", b"nosniff")]
    has_cache_control = any(name.lower() == b"cache-control" for name, _ in headers)
    if not has_cache_control and not path.startswith("/docs/assets/"):
        extra.append((b"cache-control", b"no-store"))
    return extra


class RequestContextMiddleware:
    """Gives each request an id (echoed in `X-Request-ID` and in problems) and counts it."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500
        started_response = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, started_response
            if message["type"] == "http.response.start":
                started_response = True
                status = message["status"]
                headers: list[Any] = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER.encode(), request_id.encode()))
                headers.extend(_protective_headers(scope["path"], headers))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            if started_response:
                raise
            # Answer here, inside this middleware, so the 500 carries X-Request-ID too.
            await internal_error(Request(scope), exc)(scope, receive, send_with_id)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.served(scope["method"], template, status, time.perf_counter() - started)
