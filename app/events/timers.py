"""Timers: a rule's due time as a row (SPEC §9). Domains schedule and cancel them and register
a handler per kind; the pump fires each once, in a transaction that also marks it fired, so the
handler's writes (events) and the firing commit together or not at all — across restarts and
several workers alike."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Engine, Integer, Select, Update, bindparam, func, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from app.clock import WALL_CLOCK, Clock
from app.db import UTCDateTime, affected, among, expire_loaded, insert_rows, table_of
from app.events import wake
from app.events.models import Timer
from app.ids import new_id
from app.settings import Settings

log = logging.getLogger("dpa.events.timers")

Handler = Callable[[Session, Clock, Timer, Settings], None]


class TimerStatus(StrEnum):
    """pending until fired, cancelled, or failed (no handler for its kind)."""

    pending = "pending"
    fired = "fired"
    cancelled = "cancelled"
    failed = "failed"


class TimerKind(StrEnum):
    """What the worker does at a timer's due time. Not event types (some values look alike, for
    history: they are stored in `timers.kind` and must stay as they are)."""

    breach_reminder = "breach.reminder"
    breach_staff_reminder = "breach.staff_reminder"
    breach_deadline = "breach.deadline"
    exception_ending = "security_exception.ending"
    exception_end = "security_exception.end"
    dsr_reminder = "data_subject_request.reminder"
    dsr_overdue = "data_subject_request.overdue"
    audit_reminder = "audit.reminder"
    change_deadline_soon = "subprocessor.objection_deadline_soon"
    notice_escalation = "notice.escalation"
    notice_email = "notice.email"


HANDLERS: dict[str, Handler] = {}


def handler(kind: TimerKind | str) -> Callable[[Handler], Handler]:
    """Register the function that fires timers of `kind` (a TimerKind; tests add their own)."""

    def register(function: Handler) -> Handler:
        HANDLERS[kind] = function
        return function

    return register


def schedule(
    session: Session,
    clock: Clock,
    *,
    kind: str,
    subject: str,
    due_at: datetime,
    payload: dict[str, Any] | None = None,
    client_id: str | None = None,
) -> Timer:
    timer = Timer(**row(clock.now(), kind, subject, due_at, client_id, payload))
    session.add(timer)
    wake.work_written(session)
    return timer


def row(
    now: datetime,
    kind: str,
    subject: str,
    due_at: datetime,
    client_id: str | None = None,
    payload: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A pending timer, as `schedule_many` takes it, created `now` (one instant for a whole
    fan-out: converted once for all its rows, app.db.UTCDateTime)."""
    return {
        "id": new_id("tmr"),
        "kind": kind,
        "subject": subject,
        "client_id": client_id,
        "due_at": due_at,
        "status": TimerStatus.pending.value,
        "payload": payload or {},
        "created_at": now,
    }


def schedule_many(session: Session, rows: list[dict[str, Any]]) -> None:
    """Many timers (built with `row`) in one multi-row insert: a fan-out's reminders and
    deadlines."""
    if rows:
        insert_rows(session, Timer, rows)
        wake.work_written(session)


def cancel(session: Session, clock: Clock, *, subject: str, kinds: list[str] | None = None) -> int:
    """Cancel the pending timers of a subject (all, or of these kinds). Fired ones stay fired."""
    return cancel_many(session, clock, [subject], kinds)


def cancel_many(
    session: Session, clock: Clock, subjects: list[str], kinds: list[str] | None = None
) -> int:
    """`cancel` for several subjects, in one statement."""
    if not subjects:
        return 0
    params: dict[str, Any] = {"subjects": subjects, "at": clock.now()}
    if kinds is not None:
        params["kinds"] = kinds
    session.flush()  # a timer scheduled in this unit of work is a row before the UPDATE
    cancelled = affected(session.execute(_cancel_statement(kinds is not None), params))
    # Timers of these subjects the session holds read their row again when next used (those
    # of other kinds too: flushed just above, they have nothing to lose but a reload).
    expire_loaded(session, Timer, set(subjects), "status", "cancelled_at", by="subject")
    return cancelled


# Statements the pump and every fan-out run: built once, with bind parameters (building one
# costs more than running it).


@functools.cache
def _cancel_statement(of_kinds: bool) -> Update:
    """Core, not an ORM UPDATE: SQLAlchemy cannot bring objects up to date from a statement's
    parameters (with list parameters, "evaluate" leaves them pending and "fetch" sets
    cancelled_at to None), so cancel_many flushes first and expires the objects itself."""
    table = table_of(Timer)
    statement = (
        update(table)
        .where(
            among(table.c.subject, "subjects"),
            table.c.status == TimerStatus.pending.value,
        )
        .values(status=TimerStatus.cancelled.value, cancelled_at=bindparam("at", type_=UTCDateTime))
    )
    if of_kinds:
        statement = statement.where(among(table.c.kind, "kinds"))
    return statement


def next_due(session: Session) -> tuple[datetime | None]:
    """The earliest unclaimed due time (leases are the pump's concern)."""
    return (session.execute(_next_due_statement()).scalar_one(),)


@functools.cache
def _next_due_statement() -> Select[tuple[datetime | None]]:
    table = table_of(Timer)
    return sa_select(func.min(table.c.due_at)).where(
        table.c.status == TimerStatus.pending.value, table.c.lease_expires_at.is_(None)
    )


def claim_due(
    session: Session, clock: Clock, owner: str, lease: timedelta, limit: int
) -> list[str]:
    """Lease up to `limit` due timers, earliest first, in the session's transaction (the caller
    commits: the pump's pass claims timers and deliveries in one)."""
    when = {"now": clock.now(), "wall_now": WALL_CLOCK.now()}
    first, lease_them = _claim_statements()
    # A read first: most passes find nothing due, and on SQLite the UPDATE below would take
    # the one write lock for nothing, making the recording of delivery results wait.
    if session.execute(first, when).first() is None:
        return []
    claimed = session.execute(
        lease_them,
        {**when, "owner": owner, "until": when["wall_now"] + lease, "limit": limit},
    )
    return list(claimed.scalars().all())


@functools.cache
def _claim_statements() -> tuple[Select[tuple[str]], Update]:
    """The first due timer, if any; then a lease on up to `limit` due ones, earliest first."""
    table = table_of(Timer)
    due = sa_select(table.c.id).where(
        table.c.status == TimerStatus.pending.value,
        table.c.due_at <= bindparam("now", type_=UTCDateTime),
        table.c.lease_expires_at.is_(None)
        | (table.c.lease_expires_at < bindparam("wall_now", type_=UTCDateTime)),
    )
    claimable = (
        due.order_by(table.c.due_at)
        .limit(bindparam("limit", type_=Integer))
        .with_for_update(skip_locked=True)
    )
    lease = (
        update(table)
        .where(table.c.id.in_(claimable.scalar_subquery()))
        .values(
            lease_owner=bindparam("owner"),
            lease_expires_at=bindparam("until", type_=UTCDateTime),
        )
        .returning(table.c.id)
    )
    return due.limit(1), lease


def fire(engine: Engine, clock: Clock, settings: Settings, owner: str, timer_id: str) -> bool:
    """Mark the timer fired and run its handler, in one transaction. False if it was not ours
    any more (cancelled, or fired by another worker after our lease ran out)."""
    with Session(engine) as session:
        kind = session.exec(select(Timer.kind).where(Timer.id == timer_id)).first()
        function = HANDLERS.get(kind or "")
        final = (TimerStatus.fired if function is not None else TimerStatus.failed).value
        marked = affected(
            session.execute(
                update(Timer)
                .where(col(Timer.id) == timer_id, col(Timer.status) == TimerStatus.pending.value)
                .where(col(Timer.lease_owner) == owner)
                .values(
                    status=final,
                    fired_at=clock.now(),
                    lease_owner=None,
                    lease_expires_at=None,
                    error=None if function else f"no handler for kind {kind!r}",
                )
            )
        )
        if marked != 1:
            session.rollback()
            return False
        if function is None:
            log.error("no handler for timer kind %r (%s); marked failed", kind, timer_id)
            session.commit()
            return False
        timer = session.get(Timer, timer_id, populate_existing=True)
        assert timer is not None
        try:
            function(session, clock, timer, settings)
            session.commit()
        except Exception as exc:
            session.rollback()
            log.exception("timer %s (%s) failed; it will be retried", timer_id, kind)
            _release(engine, timer_id, owner, f"{type(exc).__name__}: {exc}"[:500])
            return False
        return True


def _release(engine: Engine, timer_id: str, owner: str, error: str) -> None:
    with Session(engine) as session:
        session.execute(
            update(Timer)
            .where(col(Timer.id) == timer_id, col(Timer.lease_owner) == owner)
            .values(error=error)
        )
        session.commit()
