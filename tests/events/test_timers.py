"""Timers (SPEC §9): a row due at T fires once at T, once after a restart if T passed while
the service was down, and never when cancelled."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from app.clock import MovableClock
from app.events import timers
from app.events.models import Event, Timer
from app.main import create_app
from app.settings import Settings
from tests.conftest import settle
from tests.helpers import KIND


def schedule(app: FastAPI, subject: str, due_in: timedelta, kind: str = KIND) -> Timer:
    context = app.state.context
    with Session(context.engine, expire_on_commit=False) as session:
        timer = timers.schedule(
            session, context.clock, kind=kind, subject=subject, due_at=context.clock.now() + due_in
        )
        session.commit()
        return timer


def fired(app: FastAPI, subject: str) -> int:
    with Session(app.state.context.engine) as session:
        return session.exec(
            select(func.count()).select_from(Event).where(Event.subject == subject)
        ).one()


def test_fires_once_at_its_due_time(live_app: FastAPI, clock: MovableClock) -> None:
    timer = schedule(live_app, "sub_at_t", timedelta(hours=24))
    clock.set(timer.due_at - timedelta(milliseconds=1))
    settle(live_app)
    assert fired(live_app, "sub_at_t") == 0
    clock.set(timer.due_at)
    settle(live_app)
    assert fired(live_app, "sub_at_t") == 1
    clock.advance(timedelta(days=3))
    settle(live_app)
    live_app.state.context.worker.kick()
    settle(live_app)
    assert fired(live_app, "sub_at_t") == 1
    with Session(live_app.state.context.engine) as session:
        row = session.get(Timer, timer.id)
        assert row is not None and row.status == "fired" and row.fired_at == timer.due_at


def test_a_cancelled_timer_never_fires(live_app: FastAPI, clock: MovableClock) -> None:
    keep = schedule(live_app, "sub_cancel", timedelta(hours=1), kind=KIND)
    schedule(live_app, "sub_cancel", timedelta(hours=2), kind="test.other")
    context = live_app.state.context
    with Session(context.engine) as session:
        assert timers.cancel(session, clock, subject="sub_cancel", kinds=[KIND]) == 1
        session.commit()
    clock.advance(timedelta(hours=3))
    settle(live_app)
    assert fired(live_app, "sub_cancel") == 0
    with Session(context.engine) as session:
        assert session.get(Timer, keep.id).status == "cancelled"  # type: ignore[union-attr]


def test_a_cancelled_timer_reads_cancelled_in_the_session_that_cancelled_it(
    app: FastAPI, clock: MovableClock
) -> None:
    """A request that holds a timer (scheduled unflushed, or loaded) and cancels it must not
    go on seeing it pending: the cancellation runs as one statement around the objects."""
    context = app.state.context
    with Session(context.engine) as session:
        unflushed = timers.schedule(
            session, clock, kind=KIND, subject="sub_held", due_at=clock.now() + timedelta(hours=1)
        )
        other = timers.schedule(
            session, clock, kind="test.other", subject="sub_held", due_at=clock.now()
        )
        assert timers.cancel_many(session, clock, ["sub_held"], kinds=[KIND]) == 1
        assert unflushed.status == "cancelled" and unflushed.cancelled_at == clock.now()
        assert other.status == "pending"
        session.commit()


def test_a_timer_due_while_down_fires_once_on_the_next_start(
    settings: Settings, clock: MovableClock
) -> None:
    down = create_app(settings, clock, bootstrap=False)  # worker off: the service is "down"
    timer = schedule(down, "sub_restart", timedelta(minutes=30))
    clock.advance(timedelta(hours=5))
    for _ in range(2):  # two restarts: it fires on the first, and only then
        app = create_app(
            settings.model_copy(update={"worker_enabled": True}), clock, bootstrap=False
        )
        with TestClient(app):
            settle(app)
        assert fired(app, "sub_restart") == 1
    with Session(down.state.context.engine) as session:
        assert session.get(Timer, timer.id).status == "fired"  # type: ignore[union-attr]


def test_a_timer_without_a_handler_is_marked_failed_not_lost(
    live_app: FastAPI, clock: MovableClock
) -> None:
    timer = schedule(live_app, "sub_orphan", timedelta(seconds=1), kind="test.unknown")
    clock.advance(timedelta(seconds=2))
    settle(live_app)
    with Session(live_app.state.context.engine) as session:
        row = session.get(Timer, timer.id)
        assert row is not None and row.status == "failed"
        assert "no handler" in (row.error or "")
