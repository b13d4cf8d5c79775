"""create_app(): routers, error handlers, the lifespan that bootstraps the first staff key and
starts the worker."""

from __future__ import annotations

import functools
import logging
import re
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from sqlmodel import Session
from starlette.routing import BaseRoute

from app import crypto, ops
from app.auditlog import chain
from app.auditlog.router import router as auditlog_router
from app.audits.router import calendar as calendar_router
from app.audits.router import router as audits_router
from app.auth.router import router as auth_router
from app.auth.service import bootstrap_staff_key
from app.auth.throttle import FailedAuthThrottle
from app.bodylimit import BodyLimitMiddleware
from app.breaches.router import disclosures_router
from app.breaches.router import reports as breach_reports_router
from app.breaches.router import router as breaches_router
from app.calendarfeeds.router import feeds as calendar_feed_reads
from app.calendarfeeds.router import router as calendarfeeds_router
from app.clients.router import router as clients_router
from app.clock import Clock, SystemClock
from app.compliance.router import router as compliance_router
from app.context import AppContext
from app.db import make_engine
from app.docs import install_docs
from app.errors import PROBLEM_MEDIA_TYPE, install_error_handlers
from app.events.router import endpoints as endpoints_router
from app.events.router import events as events_router
from app.events.webhooks_doc import publish as publish_webhooks
from app.events.webhooks_doc import tidy as tidy_webhooks
from app.instructions.router import instructions as instructions_router
from app.loopreads import LoopReadFailed, LoopReads
from app.metrics import Metrics, RequestContextMiddleware
from app.notices.pages import router as notice_pages
from app.processor.router import router as processor_router
from app.record.router import router as record_router
from app.security_exceptions.router import router as exceptions_router
from app.settings import Settings
from app.subject_requests.router import router as dsrs_router
from app.subprocessors.router import change_notices as subprocessor_changes_router
from app.subprocessors.router import per_client as client_subprocessors_router
from app.subprocessors.router import registry as subprocessors_router
from app.worker import Worker

log = logging.getLogger("dpa")

DESCRIPTION = """
**dpa-service** keeps the promises SCR Group makes to its clients in their data-processing
agreement (GDPR Art. 28): it records each client's written instructions and DPO, the
sub-processors and the client's right to object, audit requests under the 30-working-day notice
rule, and above all personal data breaches, which it notifies to each client's contacts by signed
webhooks **at the latest within 72 hours**, with reminders and escalation until they are received.

**Authorize** with an API key (`dpa_…`): a staff key sees everything; a client key sees only its
own client. Every error is `application/problem+json`. Every POST accepts an `Idempotency-Key`.
"""

TAGS = [
    {
        "name": "breaches",
        "description": "Personal data breaches: notified at once, the 72-hour timer per client.",
    },
    {
        "name": "disclosure requests",
        "description": "Authorities' requests for a client's data, told at once unless forbidden.",
    },
    {"name": "audits", "description": "Audits on 30 working days' notice (seed §2.5)."},
    {"name": "calendar", "description": "Working days and holidays of the clients' calendars."},
    {"name": "instructions", "description": "Written processing instructions (seed §2.2)."},
    {"name": "security exceptions", "description": "Exceptions to security measures (§2.3)."},
    {"name": "data-subject requests", "description": "Clients' orders about data subjects."},
    {
        "name": "sub-processors",
        "description": "The registry, change notices, objections and the transfer guard.",
    },
    {"name": "clients", "description": "Clients and the contacts they communicated in writing."},
    {"name": "api keys", "description": "Keys for client systems and SCR staff."},
    {
        "name": "webhooks",
        "description": "Receivers of signed events (Standard Webhooks), secrets, attempts.",
    },
    {"name": "events", "description": "Everything a client or SCR must know of, and its delivery."},
    {
        "name": "evidence",
        "description": "What a processor can show (Art. 5(2), 28(3)(h), 30(2)): the audit log, "
        "the processor profile, the record of processing, compliance status, deadline calendars.",
    },
    {"name": "ops", "description": "Health, readiness and metrics."},
]


def operation_id(route: APIRoute) -> str:
    """A stable, readable operation id for generated clients: the tag, then the function name
    (`clients-create-client`, `breaches-acknowledge`), instead of FastAPI's
    `create_client_v1_clients_post`."""
    tag = str(route.tags[0]) if route.tags else "service"
    return f"{tag.replace(' ', '-')}-{route.name.replace('_', '-')}"


# Every router of the service, in the order requests are matched.
ROUTERS = (
    ops.router,
    clients_router,
    auth_router,
    breaches_router,
    breach_reports_router,
    disclosures_router,
    audits_router,
    calendar_router,
    instructions_router,
    exceptions_router,
    dsrs_router,
    subprocessors_router,
    subprocessor_changes_router,
    client_subprocessors_router,
    endpoints_router,
    events_router,
    auditlog_router,
    processor_router,
    record_router,
    compliance_router,
    calendarfeeds_router,
    calendar_feed_reads,
    notice_pages,
)


@functools.cache
def _service_routes() -> tuple[BaseRoute, ...]:
    """`ROUTERS`, included once per process, for every app made in it to share.

    FastAPI (0.165) includes a router lazily: an app's first request to one of its routes
    builds every route of that router again for that app (dependencies, models, response
    fields), ~35 ms for the clients router. A process that serves pays it once either way; the
    test suite makes an app for each test (~800), and that was a quarter of its CPU. The routes
    hold nothing of an app (handlers reach its state through the request). Included without an
    app, they do not see an app's `dependency_overrides`, which the service does not use."""
    holder = APIRouter(generate_unique_id_function=operation_id)
    for router in ROUTERS:
        holder.include_router(router)
    return tuple(holder.routes)


def create_app(
    settings: Settings | None = None,
    clock: Clock | None = None,
    *,
    bootstrap: bool = True,
) -> FastAPI:
    settings = settings or Settings()
    crypto.configure(settings.sealing_ring)
    context = AppContext(
        settings=settings,
        engine=make_engine(settings.database_url, settings.database_pool_size),
        clock=clock or SystemClock(),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if bootstrap:
            plain = await run_in_threadpool(_bootstrap, context)
            if plain is not None:
                print(f"Staff API key (shown once): {plain}", flush=True)
        context.loop_reads = LoopReads.for_engine(context.engine, settings.database_pool_size)
        if context.loop_reads is not None:
            try:
                await context.loop_reads.open()
            except LoopReadFailed as exc:  # no database file yet: requests read as before
                log.warning("reads on the loop are off: %s", exc)
                context.loop_reads = None
        if settings.worker_enabled:
            context.worker = Worker(context)
            context.worker.start()
        try:
            yield
        finally:
            if context.worker is not None:
                await run_in_threadpool(context.worker.stop)
            if context.loop_reads is not None:
                await context.loop_reads.close()
                context.loop_reads = None
            context.engine.dispose()

    app = FastAPI(
        title="dpa-service",
        version="0.1.0",
        description=DESCRIPTION,
        openapi_tags=TAGS,
        lifespan=lifespan,
        docs_url=None,  # served from our own assets: install_docs below
        redoc_url=None,
        swagger_ui_parameters={"persistAuthorization": settings.docs_persist_auth},
        generate_unique_id_function=operation_id,
    )
    context.throttle = FailedAuthThrottle(
        settings.auth_failure_limit, settings.auth_failure_window_seconds
    )
    context.metrics = Metrics()
    context.metrics.watch_outbox(context.engine, context.clock)
    app.state.context = context
    install_error_handlers(app)
    install_docs(app)
    # Inner first: the body limit answers before routing and authentication; the request
    # context (id, metrics, security headers) wraps every answer, a 413 included.
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(RequestContextMiddleware, metrics=context.metrics)
    app.router.routes.extend(_service_routes())
    publish_webhooks(app, operation_id)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def prepare_routes(app: FastAPI) -> None:
    """Have FastAPI build every route's state now (its parameter and response models, for each
    included router), which it otherwise does at the first request a router sees: ~140 ms for
    the whole API, paid by whoever calls first after a start (a breach notice, say). Matching
    a path no route has walks every router once. `dpa serve` calls it before freezing its
    start-up heap, so that state is frozen with the rest; tests' apps skip it (they share the
    routes, `_service_routes`: each test process builds them once, as its requests need them)."""
    scope = {"type": "http", "method": "GET", "path": "/\x00", "root_path": "", "headers": []}
    for route in app.router.routes:
        route.matches(dict(scope))


def _bootstrap(context: AppContext) -> str | None:
    from sqlalchemy.exc import IntegrityError

    with Session(context.engine) as session:
        try:
            made = bootstrap_staff_key(session, context.clock, context.settings.key_hash_secret)
            if made is None:
                session.commit()
                return None
            key, plain = made
            chain.append_operator(session, context.clock.now(), "first start", {"key_id": key.id})
            session.commit()
            return plain
        except IntegrityError:
            session.rollback()  # another process bootstrapped at the same moment
            return None


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The generated schema, with every error response served as application/problem+json."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
            webhooks=app.webhooks.routes,
            tags=app.openapi_tags,
        )
        for path_item in schema.get("paths", {}).values():
            for operation in path_item.values():
                for status, response in operation.get("responses", {}).items():
                    content = response.get("content", {})
                    if status[0] in "45" and "application/json" in content:
                        content[PROBLEM_MEDIA_TYPE] = content.pop("application/json")
        tidy_webhooks(schema)
        app.openapi_schema = schema
    return app.openapi_schema


# Two credentials travel in a URL path, because what opens them sends no header: a calendar
# feed's token (calendar apps) and a notice page's token (a link in an e-mail). The access log
# writes every path it serves; these two are written without their token.
_CREDENTIAL_IN_PATH = re.compile(r"^(/v1/calendar-feeds/|/notices/)[^/?#]+")


def _without_credentials(value: object) -> object:
    if isinstance(value, str):
        return _CREDENTIAL_IN_PATH.sub(r"\1<redacted>", value)
    return value


class RedactCredentials(logging.Filter):
    """On uvicorn's access log: its record carries the path as an argument."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_without_credentials(value) for value in record.args)
        return True


def configure_logging(level: str) -> None:
    # The heartbeat job and the readiness probe's migration check would flood INFO otherwise.
    for noisy in ("apscheduler", "alembic.runtime.migration"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # uvicorn configures its loggers after this (dictConfig), which keeps a logger's filters.
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(found, RedactCredentials) for found in access.filters):
        access.addFilter(RedactCredentials())
    logging.basicConfig(
        level=level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
