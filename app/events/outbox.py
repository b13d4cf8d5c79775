"""The pump's database side: claim due deliveries with a lease, record attempts and their
consequences. Plain functions the pump calls from worker threads: claiming in the session of
the pump's pass (one transaction with the timers' claim), recording on an engine."""

from __future__ import annotations

import functools
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    CTE,
    ColumnElement,
    Engine,
    Integer,
    Row,
    Select,
    Table,
    Text,
    Update,
    bindparam,
    case,
    cast,
    func,
    update,
)
from sqlalchemy import select as sa_select
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col

from app.clock import WALL_CLOCK, Clock
from app.db import ATTEMPTS, UTCDateTime, among, execute_many, insert_rows, retryable, table_of
from app.events import retry, signing
from app.events.models import Delivery, DeliveryAttempt, Event, Timer, WebhookEndpoint
from app.events.sending import AttemptResult, ClaimedDelivery
from app.events.timers import TimerStatus
from app.events.timers import next_due as next_timer_due
from app.events.types import AttemptOutcome, DeliveryStatus
from app.ids import new_id

log = logging.getLogger("dpa.events.outbox")


@dataclass(frozen=True)
class Delivered:
    """A delivery's first 2xx: the event it carried, and when."""

    event_id: str
    delivered_at: datetime


# Domains that must know when a message of theirs got through (a breach notice's notified_at)
# register here; the hook runs in the transaction that records the successful attempts, once
# per event type with every delivery of that type whose first 2xx it records.
DeliveredHook = Callable[[Session, Clock, list[Delivered]], None]
DELIVERED_HOOKS: dict[str, list[DeliveredHook]] = {}


def on_delivered(event_type: str) -> Callable[[DeliveredHook], DeliveredHook]:
    def register(hook: DeliveredHook) -> DeliveredHook:
        DELIVERED_HOOKS.setdefault(event_type, []).append(hook)
        return hook

    return register


def signing_secrets(
    secret: str, previous: str | None, previous_expires_at: datetime | None, now: datetime
) -> list[str]:
    """The current secret, and the previous one while its 24-hour overlap runs."""
    found = [secret]
    if previous and previous_expires_at is not None and previous_expires_at > now:
        found.append(previous)
    return found


def candidates(
    session: Session, clock: Clock, limit: int, saturated: set[str]
) -> list[tuple[str, str]]:
    """Due, unleased deliveries (id, endpoint), oldest due first, skipping busy endpoints."""
    params: dict[str, Any] = {"now": clock.now(), "wall_now": WALL_CLOCK.now(), "limit": limit}
    if saturated:
        params["saturated"] = list(saturated)
    rows = session.execute(_candidates_statement(bool(saturated)), params)
    return [(row[0], row[1]) for row in rows]


# The pump's statements run many times a second: each is built once, with bind parameters
# (`expanding` ones for lists), and SQLAlchemy keeps its cache key with the object. Building
# them anew for every call was an eighth of a fan-out's CPU. Core tables, not ORM entities:
# these read and write columns, never objects.
_DELIVERIES = table_of(Delivery)


def _claimable(table: Table) -> tuple[ColumnElement[bool], ...]:
    return (
        table.c.status == DeliveryStatus.pending.value,
        # Still due: another pump run may have tried it since it was a candidate, and
        # scheduled its retry.
        table.c.next_attempt_at <= bindparam("now", type_=UTCDateTime),
        table.c.lease_expires_at.is_(None)
        | (table.c.lease_expires_at < bindparam("wall_now", type_=UTCDateTime)),
    )


@functools.cache
def _candidates_statement(skip_endpoints: bool) -> Select[*tuple[Any, ...]]:
    table = _DELIVERIES
    statement = (
        sa_select(table.c.id, table.c.endpoint_id)
        .where(*_claimable(table))
        .order_by(table.c.next_attempt_at)
        .limit(bindparam("limit", type_=Integer))
    )
    if skip_endpoints:
        statement = statement.where(~among(table.c.endpoint_id, "saturated"))
    return statement


def claim(
    session: Session, clock: Clock, owner: str, lease: timedelta, delivery_ids: list[str]
) -> list[ClaimedDelivery]:
    """Lease these deliveries if they are still claimable (FOR UPDATE SKIP LOCKED on
    PostgreSQL, so two workers never both claim a row; SQLite has one writer, and its UPDATE
    checks the lease conditions again), in the session's transaction: the caller commits, and
    sends nothing before it has.

    A claimable row that still names an owner was claimed by a worker that stopped before it
    recorded an answer (a kill, a crash): its lease ran out. The request may have reached the
    receiver, so that attempt is logged as `interrupted` before the message goes again."""
    if not delivery_ids:
        return []
    now, wall_now = clock.now(), WALL_CLOCK.now()
    params = {"now": now, "wall_now": wall_now, "ids": delivery_ids}
    leasing = {"owner": owner, "until": wall_now + lease}
    taken: Sequence[Row[Any]]
    if session.get_bind().dialect.name == "postgresql":
        taken = session.execute(_claim_at_once(), {**params, **leasing}).all()
    else:
        read, lease_them = _claim_statements()
        found = session.execute(read, params).all()
        if not found:
            return []
        leased = session.execute(lease_them, {**params, "ids": [r.id for r in found], **leasing})
        claimed_ids = set(leased.scalars().all())
        taken = [row for row in found if row.id in claimed_ids]
    claimed = []
    interrupted = []
    # An event's body is the same for each endpoint it goes to: built once per claim.
    bodies: dict[str, str] = {}
    for row in taken:
        if row.lease_owner is not None:
            interrupted.append(_interrupted_attempt(row, now, wall_now, lease))
        payload = bodies.get(row.event_id)
        if payload is None:
            payload = bodies[row.event_id] = signing.body(row.type, row.created_at, row.data)
        claimed.append(
            ClaimedDelivery(
                delivery_id=row.id,
                event_id=row.event_id,
                event_type=row.type,
                endpoint_id=row.endpoint_id,
                url=row.url,
                signing_secrets=signing_secrets(
                    row.secret, row.previous_secret, row.previous_secret_expires_at, now
                ),
                payload=payload,
                urgent=row.urgent,
                after_interruption=row.lease_owner,
            )
        )
    insert_rows(session, DeliveryAttempt, interrupted)
    return claimed


# What a send needs: the delivery as it was before the claim, its event and its endpoint.
def _sent_columns() -> tuple[ColumnElement[Any], ...]:
    deliveries, events, endpoints = _DELIVERIES, table_of(Event), table_of(WebhookEndpoint)
    return (
        deliveries.c.id,
        deliveries.c.event_id,
        deliveries.c.endpoint_id,
        deliveries.c.urgent,
        deliveries.c.attempt_count,
        deliveries.c.lease_owner,
        deliveries.c.lease_expires_at,
        events.c.type,
        events.c.created_at,
        # As JSON text: it goes into the message as it is (signing.body).
        cast(events.c.data, Text).label("data"),
        endpoints.c.url,
        endpoints.c.secret,
        endpoints.c.previous_secret,
        endpoints.c.previous_secret_expires_at,
    )


def _lease_values(before: Table | CTE) -> dict[str, Any]:
    deliveries = _DELIVERIES
    return {
        "lease_owner": bindparam("owner"),
        "lease_expires_at": bindparam("until", type_=UTCDateTime),
        # An owner there before the claim means an interrupted attempt.
        "attempt_count": case(
            (before.c.lease_owner.is_not(None), deliveries.c.attempt_count + 1),
            else_=deliveries.c.attempt_count,
        ),
    }


@functools.cache
def _claim_statements() -> tuple[Select[*tuple[Any, ...]], Update]:
    """SQLite (one writer): everything a send needs, read; then the lease, on the rows still
    claimable, returning those it took."""
    deliveries, events, endpoints = _DELIVERIES, table_of(Event), table_of(WebhookEndpoint)
    ids = among(deliveries.c.id, "ids")
    read = (
        sa_select(*_sent_columns())
        .join(events, events.c.id == deliveries.c.event_id)
        .join(endpoints, endpoints.c.id == deliveries.c.endpoint_id)
        .where(ids, *_claimable(deliveries))
    )
    lease = (
        update(deliveries)
        .where(ids, *_claimable(deliveries))
        # SET reads the row as it was.
        .values(_lease_values(deliveries))
        .returning(deliveries.c.id)
    )
    return read, lease


@functools.cache
def _claim_at_once() -> Update:
    """PostgreSQL: the claimable deliveries locked (SKIP LOCKED: rows another worker's claim or
    recording holds are left to it; their events and endpoints are not locked, another worker
    may send other deliveries of them meanwhile), leased, and returned with what a send needs
    as they were before: one statement where a read and an UPDATE took two (a 20-row claim
    3.5-4.5 -> 2.8-2.9 ms here). A row another worker leased after this statement began is
    read again once its lock is free and, no longer claimable, left out."""
    deliveries, events, endpoints = _DELIVERIES, table_of(Event), table_of(WebhookEndpoint)
    before = (
        sa_select(
            deliveries.c.id,
            deliveries.c.attempt_count,
            deliveries.c.lease_owner,
            deliveries.c.lease_expires_at,
        )
        .where(among(deliveries.c.id, "ids"), *_claimable(deliveries))
        .with_for_update(skip_locked=True)
        .cte("before")
    )
    columns = {column.key: column for column in _sent_columns()}
    for name in ("attempt_count", "lease_owner", "lease_expires_at"):
        columns[name] = before.c[name]
    return (
        update(deliveries)
        .where(
            deliveries.c.id == before.c.id,
            events.c.id == deliveries.c.event_id,
            endpoints.c.id == deliveries.c.endpoint_id,
        )
        .values(_lease_values(before))
        .returning(*columns.values())
    )


def _interrupted_attempt(
    delivery: Row[Any], now: datetime, wall_now: datetime, lease: timedelta
) -> dict[str, Any]:
    """The attempt a stopped worker never recorded. Its lease tells when it was claimed (on
    the wall clock, like every lease; the log is on the service clock)."""
    assert delivery.lease_expires_at is not None and delivery.lease_owner is not None
    lease_ran_out = now - (wall_now - delivery.lease_expires_at)
    claimed_at = lease_ran_out - lease
    return _attempt_row(
        delivery.id,
        delivery.event_id,
        delivery.endpoint_id,
        number=delivery.attempt_count + 1,
        worker=delivery.lease_owner,
        attempted_at=claimed_at,
        now=now,
        outcome=AttemptOutcome.interrupted,
        error=(
            f"worker {delivery.lease_owner} stopped before it recorded an answer (its lease ran "
            f"out at {lease_ran_out.isoformat()}); the receiver may have the message, which "
            "is sent again with the same webhook-id"
        )[:500],
    )


def _attempt_row(
    delivery_id: str,
    event_id: str,
    endpoint_id: str,
    *,
    number: int,
    worker: str,
    attempted_at: datetime,
    now: datetime,
    outcome: AttemptOutcome,
    error: str | None,
    status_code: int | None = None,
    duration_ms: int = 0,
    response_excerpt: str | None = None,
    next_attempt_at: datetime | None = None,
) -> dict[str, Any]:
    return {
        "id": new_id("att"),
        "delivery_id": delivery_id,
        "event_id": event_id,
        "endpoint_id": endpoint_id,
        "number": number,
        "worker": worker,
        "attempted_at": attempted_at,
        "created_at": now,
        "outcome": outcome.value,
        "status_code": status_code,
        "duration_ms": duration_ms,
        "error": error,
        "response_excerpt": response_excerpt,
        "next_attempt_at": next_attempt_at,
    }


def release(engine: Engine, owner: str, delivery_ids: list[str]) -> None:
    """Give back claims that were never attempted (shutdown), so they are due again at once."""
    if not delivery_ids:
        return
    with Session(engine) as session:
        session.execute(
            update(Delivery)
            .where(col(Delivery.id).in_(delivery_ids), col(Delivery.lease_owner) == owner)
            .values(lease_owner=None, lease_expires_at=None)
        )
        session.commit()


def record(
    engine: Engine,
    clock: Clock,
    owner: str,
    results: list[AttemptResult],
    rng: random.Random | None = None,
) -> list[str]:
    """`record_once`, run again (from the start: nothing of the failed run is kept) when the
    database ends it as a deadlock victim. Recording a 2xx locks the delivery, then marks its
    notice notified; a request acknowledging that notice at the same moment locks them the other
    way round. Without this, the batch waited for its lease to run out and was sent again."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return record_once(engine, clock, owner, results, rng)
        except OperationalError as exc:
            if not retryable(exc) or attempt == ATTEMPTS:
                raise
            log.warning(
                "recording %d attempts: %s, run again", len(results), type(exc.orig).__name__
            )
    raise AssertionError("unreachable")


def record_once(
    engine: Engine,
    clock: Clock,
    owner: str,
    results: list[AttemptResult],
    rng: random.Random | None = None,
) -> list[str]:
    """Record attempts and what follows from them, in one transaction (group commit).
    Returns the ids of endpoints disabled by a 410.

    A result whose claim this worker no longer holds is not recorded: its lease ran out (a
    database stalled longer than the request timeout) and another worker has logged this
    request as interrupted and sends the message again."""
    from app.events import service  # the service emits endpoint.disabled

    disabled: list[str] = []
    first_successes: dict[str, list[Delivered]] = {}
    # One executemany per kind of outcome, each setting only what that outcome changes.
    delivered: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []  # 410 Gone, or no retry left
    retried: list[dict[str, Any]] = []
    attempts: list[dict[str, Any]] = []
    gone_endpoints: list[str] = []
    with Session(engine) as session:
        now = clock.now()
        ids = [result.claimed.delivery_id for result in results]
        found = {row.id: row for row in session.execute(_recorded_statement(), {"ids": ids})}
        for result in results:
            row = found.get(result.claimed.delivery_id)
            if row is None:
                continue
            if row.lease_owner != owner:
                log.warning(
                    "delivery %s: the claim of %s ended before its answer was recorded (held "
                    "now by %s); not recorded",
                    row.id,
                    owner,
                    row.lease_owner,
                )
                continue
            first_attempt_at = row.first_attempt_at or result.attempted_at
            values = {
                "b_id": row.id,
                "attempt_count": row.attempt_count + 1,
                "first_attempt_at": first_attempt_at,
                "last_attempt_at": result.attempted_at,
                "last_status_code": result.status_code,
                "last_error": result.error,
            }
            next_attempt_at: datetime | None = None
            if result.success:
                delivered.append({**values, "delivered_at": result.attempted_at})
                if row.status != DeliveryStatus.delivered:
                    first_successes.setdefault(result.claimed.event_type, []).append(
                        Delivered(row.event_id, result.attempted_at)
                    )
            elif result.gone:
                failed.append({**values, "retry_index": row.retry_index})
                gone_endpoints.append(row.endpoint_id)
            else:
                next_attempt_at = retry.next_retry(
                    urgent=row.urgent,
                    retry_index=row.retry_index,
                    first_attempt_at=first_attempt_at,
                    now=max(now, result.attempted_at),
                    retry_after=result.retry_after,
                    rng=rng,
                )
                if next_attempt_at is None:
                    failed.append({**values, "retry_index": row.retry_index + 1})
                else:
                    retried.append(
                        {
                            **values,
                            "retry_index": row.retry_index + 1,
                            "next_attempt_at": next_attempt_at,
                        }
                    )
            attempts.append(
                _attempt_row(
                    row.id,
                    row.event_id,
                    row.endpoint_id,
                    number=row.attempt_count + 1,
                    worker=owner,
                    attempted_at=result.attempted_at,
                    now=now,
                    outcome=AttemptOutcome.success if result.success else AttemptOutcome.failure,
                    status_code=result.status_code,
                    duration_ms=result.duration_ms,
                    error=result.error,
                    response_excerpt=result.response_excerpt,
                    next_attempt_at=next_attempt_at,
                )
            )
        done = {"next_attempt_at": None}
        _update(session, owner, delivered, {**done, "status": DeliveryStatus.delivered.value})
        _update(session, owner, failed, {**done, "status": DeliveryStatus.failed.value})
        _update(session, owner, retried, {})
        insert_rows(session, DeliveryAttempt, attempts)
        for endpoint_id in dict.fromkeys(gone_endpoints):
            # Locked, and read as it is once the lock is ours: another worker recording a 410
            # from the same endpoint at the same moment has disabled it (and told staff) then.
            endpoint = session.get(
                WebhookEndpoint, endpoint_id, with_for_update=True, populate_existing=True
            )
            if endpoint is not None and endpoint.enabled:
                service.disable_endpoint(session, clock, endpoint, "the receiver answered 410 Gone")
                disabled.append(endpoint.id)
        for event_type, arrived in first_successes.items():
            for hook in DELIVERED_HOOKS.get(event_type, []):
                hook(session, clock, arrived)
        session.commit()
    return disabled


@functools.cache
def _recorded_statement() -> Select[*tuple[Any, ...]]:
    table = _DELIVERIES
    return sa_select(
        table.c.id,
        table.c.event_id,
        table.c.endpoint_id,
        table.c.status,
        table.c.urgent,
        table.c.attempt_count,
        table.c.retry_index,
        table.c.first_attempt_at,
        table.c.lease_owner,
    ).where(among(table.c.id, "ids"))


def _update(
    session: Session, owner: str, rows: list[dict[str, Any]], fixed: dict[str, Any]
) -> None:
    """One executemany: each row's values (keyed as its columns; `b_id` the delivery), the
    `fixed` ones the same for all, on deliveries this worker still holds."""
    if not rows:
        return
    names = tuple(name for name in rows[0] if name != "b_id")
    statement = _update_statement(names, tuple(fixed.items()))
    execute_many(session, statement, [{**row, "b_owner": owner} for row in rows])


@functools.cache
def _update_statement(names: tuple[str, ...], fixed: tuple[tuple[str, Any], ...]) -> Update:
    table = _DELIVERIES
    return (
        update(table)
        .where(table.c.id == bindparam("b_id"), table.c.lease_owner == bindparam("b_owner"))
        .values(
            {
                **{name: bindparam(name) for name in names},
                "lease_owner": None,
                "lease_expires_at": None,
                **dict(fixed),
            }
        )
    )


@functools.cache
def _next_due_statements(
    skip_endpoints: bool,
) -> tuple[Select[tuple[datetime | None]], ...]:
    """The earliest due delivery (leaving out busy endpoints), and the earliest lease to run
    out, of deliveries and of timers."""
    deliveries, timers = _DELIVERIES, table_of(Timer)
    pending = deliveries.c.status == DeliveryStatus.pending.value
    first_due = sa_select(func.min(deliveries.c.next_attempt_at)).where(
        pending, deliveries.c.lease_expires_at.is_(None)
    )
    if skip_endpoints:
        first_due = first_due.where(~among(deliveries.c.endpoint_id, "busy"))
    return (
        first_due,
        sa_select(func.min(deliveries.c.lease_expires_at)).where(pending),
        sa_select(func.min(timers.c.lease_expires_at)).where(
            timers.c.status == TimerStatus.pending.value
        ),
    )


def next_due(
    engine: Engine,
    clock: Clock,
    busy_endpoints: set[str] | None = None,
    deliveries: bool = True,
) -> datetime | None:
    """When the pump must wake: the earliest due delivery or timer, or the earliest lease to
    run out (a crashed worker's claims come back then). Deliveries to `busy_endpoints` (or all
    deliveries, when `deliveries` is false) are left out: a finishing request wakes the pump."""
    first_due, delivery_lease, timer_lease = _next_due_statements(bool(busy_endpoints))
    with Session(engine) as session:
        due_delivery = None
        if deliveries:
            params = {"busy": list(busy_endpoints)} if busy_endpoints else {}
            due_delivery = session.execute(first_due, params).scalar_one()
        moments = [due_delivery, *next_timer_due(session)]
        leases = [
            session.execute(delivery_lease).scalar_one(),
            session.execute(timer_lease).scalar_one(),
        ]
    # Leases run on the wall clock: translate them to the service clock's time line.
    offset = clock.now() - WALL_CLOCK.now()
    due = [m for m in moments if m is not None] + [m + offset for m in leases if m is not None]
    return min(due) if due else None
