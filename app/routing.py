"""The route class every API router uses: one unit of work per request, Idempotency-Key on POST.

The request's session is opened at its first use (`app.db.UnitOfWork`), handed to the endpoint
through `SessionDep`, and committed once after the endpoint succeeded, together with the stored
idempotent response. Any exception rolls everything back, so a failed request changes nothing
(events included: they are rows too).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import anyio
from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.routing import APIRoute
from sqlalchemy import Engine, event
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import ORMExecuteState
from sqlmodel import Session
from starlette.background import BackgroundTask
from starlette.requests import ClientDisconnect

from app import idempotency
from app.auditlog import chain, recording
from app.auth.throttle import address_of, authenticate_in_request
from app.context import AppContext
from app.db import (
    ATTEMPTS,
    UnitOfWork,
    analyze,
    holds_connection,
    mark_written,
    retryable,
    stale_statistics,
    written,
)
from app.errors import Conflict, problem_response, problem_responses

_REPLAYED_HEADERS = ("content-type", "location")
log = logging.getLogger("dpa.routing")


async def _idempotency_key_header(
    idempotency_key: str | None = Header(
        None,
        alias="Idempotency-Key",
        max_length=idempotency.MAX_KEY_LENGTH,
        description=(
            "Any unique string (a UUID). A retry with the same key and body returns the first "
            "response and creates nothing new; the same key with another body is refused."
        ),
    ),
) -> None:
    """Documents the header in OpenAPI; ServiceRoute does the work before the endpoint runs."""


def api_router(prefix: str, tag: str, *error_statuses: int) -> APIRouter:
    """The one way to make an API router: the unit of work for every route, and the problems
    every operation can answer (400, 401, 422) plus the ones its routes share."""
    return APIRouter(
        prefix=prefix,
        tags=[tag],
        route_class=ServiceRoute,
        responses=problem_responses(400, 401, *error_statuses, 422),
    )


class ServiceRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if "POST" in (kwargs.get("methods") or ()):
            kwargs["dependencies"] = [
                *(kwargs.get("dependencies") or []),
                Depends(_idempotency_key_header),
            ]
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def unit_of_work(request: Request) -> Response:
            context = request.app.state.context
            # The whole body first (Starlette keeps it for the endpoint): a client that
            # uploads slowly must not hold a turn at the database while it does.
            try:
                await request.body()
            except ClientDisconnect:
                return problem_response(
                    400,
                    "incomplete-body",
                    "The client closed the connection before the whole body arrived.",
                    request,
                )
            refused = _nul_refusal(request, await request.body())
            if refused is not None:
                return refused
            async with context.request_slots():
                return await _unit_of_work(request, handler, context, self.path_format)

        return unit_of_work


def _nul_refusal(request: Request, body: bytes) -> Response | None:
    """A NUL character anywhere in the request is refused the same way on every backend:
    SQLite would store it, PostgreSQL refuses it (SPEC §13: bad input never a 500)."""
    where = []
    if "\x00" in request.scope["path"]:  # decoded: %00 arrives as U+0000
        where.append("path")
    if b"%00" in request.scope.get("query_string", b"").lower():
        where.append("query")
    if b"\x00" in body or b"\\u0000" in body.lower():
        where.append("body")
    if not where:
        return None
    return problem_response(
        422,
        "nul-character",
        f"The request's {' and '.join(where)} contains a NUL character (U+0000), which no "
        "field accepts.",
        request,
        title="Validation error",
        errors=[
            {"field": part, "message": "contains U+0000", "type": "value_error"} for part in where
        ],
    )


async def _unit_of_work(
    request: Request,
    handler: Callable[[Request], Awaitable[Response]],
    context: AppContext,
    route: str,
) -> Response:
    """The request in one transaction; run again from the start (nothing of the failed run is
    kept) when the database ended it as a deadlock victim."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return await _attempt(request, handler, context, route)
        except OperationalError as exc:
            if not retryable(exc) or attempt == ATTEMPTS:
                raise
            log.warning("%s %s: %s, run again", request.method, route, type(exc.orig).__name__)
            for name in recording.STATE_NAMES:  # what the failed run noted for the audit log
                if hasattr(request.state, name):
                    delattr(request.state, name)
    raise AssertionError("unreachable")


async def _attempt(
    request: Request,
    handler: Callable[[Request], Awaitable[Response]],
    context: AppContext,
    route: str,
) -> Response:
    unit = UnitOfWork(context.engine)
    request.state.unit = unit
    request.state.deferred_writes = []
    key = request.headers.get("idempotency-key") if request.method == "POST" else None
    authorization = request.headers.get("authorization")
    if key is not None and authorization is None:
        key = None  # a page with no key (the notice link): nothing to replay, nothing to store
    try:
        if key is not None:
            idempotency.check_key(key)
            # Authenticated first: a revoked or unknown key is refused before any stored
            # answer (which may carry a secret) is looked up, and the scope is the key itself,
            # however its header is spelled.
            authenticated = await authenticate_in_request(
                unit,
                context,
                authorization,
                address_of(request.client),
            )
            scope = authenticated.principal.key_id
            fingerprint = idempotency.fingerprint_of(
                request.method, request.url.path, request.url.query, await request.body()
            )
            stored = await run_in_threadpool(
                idempotency.find, unit.session, scope, key, fingerprint
            )
            if stored is not None:
                headers = json.loads(stored.response_headers)
                headers["Idempotent-Replayed"] = "true"
                replay = Response(stored.response_body, stored.status_code, headers=headers)
                # Ended like any read: the lookup's transaction would otherwise keep its pooled
                # connection (idle in transaction on PostgreSQL) until the garbage collector.
                await _end_read(unit, context)
                return replay
        response = await handler(request)
        if response.status_code >= 400:
            await _roll_back(unit)
            return response
        audit = recording.facts(request, response, route, await request.body())
        opened = unit.opened
        if (
            key is None
            and audit is None
            and response.background is None
            and (opened is None or not wrote(opened))
        ):
            # A read: nothing to commit. Bookkeeping (a key's last use) goes after the
            # response, in a transaction of its own.
            await _end_read(unit, context)
            bookkeeping = request.state.deferred_writes
            if bookkeeping:
                response.background = BackgroundTask(
                    _after_response, context, _bookkeep, bookkeeping
                )
            return response
        remember = None
        if key is not None:
            remember = {
                "scope": scope,
                "key": key,
                "fingerprint": fingerprint,
                "status_code": response.status_code,
                "body": bytes(response.body),
                "headers": {
                    name: value
                    for name, value in response.headers.items()
                    if name in _REPLAYED_HEADERS
                },
                "now": context.clock.now(),
            }
        if audit is not None:
            audit["now"] = context.clock.now()
        # One trip to the thread pool: the deferred writes, the audit-log entry, the stored
        # answer, commit, close.
        session = unit.session
        analyse = set(stale_statistics(session))
        await run_in_threadpool(
            _end,
            session,
            commit=True,
            remember=remember,
            deferred=request.state.deferred_writes,
            audit=audit,
        )
        if analyse and response.background is None:
            response.background = BackgroundTask(_after_response, context, analyze, analyse)
        return response
    except IntegrityError as exc:
        await _roll_back(unit)
        detail = (
            "Another request with this Idempotency-Key was completed at the same time; "
            "retry to receive its response."
            if key is not None
            else "The change conflicts with data written at the same time; retry."
        )
        raise Conflict(detail) from exc
    except BaseException:
        # Shielded: when the request is cancelled (a task group, a shutdown), every await in
        # its cancelled scope is cancelled too, and the session would keep its pooled
        # connection, and on SQLite the write lock of what it flushed, until the garbage
        # collector came by.
        with anyio.CancelScope(shield=True):
            await _roll_back(unit)
        raise


def defer_write(request: Request, write: Callable[[Session], None]) -> None:
    """Bookkeeping (an API key's last use): in a request that writes, run in the commit's own
    trip to the thread pool just before the commit; in a read, after the response is sent, in
    a transaction of its own (a read never waits for a write).

    Never flushed where the dependency runs: a row written there is locked until the commit, and
    a lock held across a wait for a thread let every other request that wanted it pile up.
    """
    request.state.deferred_writes.append(write)


@event.listens_for(Session, "after_flush")
def _flushed(session: Session, _context: Any) -> None:
    mark_written(session)


@event.listens_for(Session, "do_orm_execute")
def _executed(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        mark_written(state.session)


def wrote(session: Session) -> bool:
    """Whether the request wrote anything (a flush, a DML statement, rows in bulk) or holds
    unflushed changes: then it commits, even on a GET (a calendar feed's SEQUENCE)."""
    return written(session) or bool(session.new or session.dirty or session.deleted)


async def _end_read(unit: UnitOfWork, context: AppContext) -> None:
    """Close a read's session, if it opened one. On SQLite a read opened no transaction (the
    driver begins one before a write only), and on PostgreSQL a request that read only its key
    ended that transaction in the key's own trip (`short_read`) or read it on the loop
    (app.loopreads): closing is local, no trip to the thread pool. A PostgreSQL read
    transaction still open ends with a ROLLBACK round trip, in the pool."""
    session = unit.opened
    if session is None:
        return
    if context.engine.dialect.name == "sqlite" or not holds_connection(session):
        session.close()
    else:
        await run_in_threadpool(_end, session, commit=False)


async def _roll_back(unit: UnitOfWork) -> None:
    """Roll back and close the request's session, if it opened one."""
    session = unit.opened
    if session is not None:
        await run_in_threadpool(_end, session, commit=False)


async def _after_response(
    context: AppContext, work: Callable[[Engine, Any], None], argument: Any
) -> None:
    """Database work after the response (a key's last use, a bulk-filled table's statistics),
    in a turn at the database like any request: a burst must not open more connections than
    the pool holds."""
    async with context.request_slots():
        await run_in_threadpool(work, context.engine, argument)


def _bookkeep(engine: Engine, writes: list[Callable[[Session], None]]) -> None:
    with Session(engine) as session:
        for write in writes:
            write(session)
        session.commit()


def _end(
    session: Session,
    *,
    commit: bool,
    remember: dict[str, Any] | None = None,
    deferred: list[Callable[[Session], None]] | None = None,
    audit: dict[str, Any] | None = None,
) -> None:
    """Finish the unit of work: deferred writes, the audit-log entry (SPEC §10: in the
    change's own transaction), the idempotent answer and commit; or roll back. Close either
    way."""
    try:
        if commit:
            for write in deferred or ():
                write(session)
            if audit is not None:
                chain.append(session, **audit)
            if remember is not None:
                idempotency.remember(session, **remember)
            session.commit()
        else:
            session.rollback()
    finally:
        session.close()
