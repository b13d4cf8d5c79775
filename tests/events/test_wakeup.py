"""The worker wakes when work is committed and at the exact next due time, not on a polling
tick: here the tick is an hour, so only those two wake-ups can deliver in time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.clock import SystemClock
from app.events import timers
from app.events.models import Delivery, DeliveryAttempt, Event, Timer
from app.main import create_app
from app.settings import Settings
from tests.helpers import KIND, register
from tests.receiver import Receiver


@pytest.fixture
def real_time_app(settings: Settings) -> Iterator[FastAPI]:
    settings = settings.model_copy(update={"worker_enabled": True, "worker_idle_seconds": 3600})
    app = create_app(settings, SystemClock(), bootstrap=False)
    with TestClient(app) as client:
        app.state.client = client
        yield app


def test_a_commit_wakes_the_pump(real_time_app: FastAPI, staff: dict, receiver: Receiver) -> None:
    client = real_time_app.state.client
    endpoint = register(client, staff, receiver, "/now")
    real_time_app.state.context.worker.settle()  # nothing due: the next tick is an hour away
    ping = client.post(f"/v1/webhook-endpoints/{endpoint['id']}/test", headers=staff)
    assert ping.status_code == 202
    try:
        (received,) = receiver.wait_for(1, "/now", timeout=10)
    except AssertionError as exc:
        # Say where the message stood, so a failure here can be explained, not guessed at.
        with Session(real_time_app.state.context.engine) as session:
            rows = session.exec(select(Delivery)).all()
            attempts = session.exec(select(DeliveryAttempt)).all()
        pump = real_time_app.state.context.worker.pump
        raise AssertionError(
            f"{exc}; deliveries: {[r.model_dump() for r in rows]}; attempts: "
            f"{[a.model_dump() for a in attempts]}; pump running={pump._running} "
            f"pending={pump._pending} locked={pump._passing.locked()} tasks={len(pump.tasks)}"
        ) from exc
    assert received.webhook_id == ping.json()["id"]


def test_a_timer_fires_at_its_due_time(real_time_app: FastAPI) -> None:
    context = real_time_app.state.context
    with Session(context.engine, expire_on_commit=False) as session:
        timer = timers.schedule(
            session,
            context.clock,
            kind=KIND,
            subject="sub_due",
            due_at=context.clock.now() + timedelta(seconds=1.5),
        )
        session.commit()
    deadline = time.monotonic() + 15
    fired = None
    while fired is None and time.monotonic() < deadline:
        time.sleep(0.05)
        with Session(context.engine) as session:
            fired = session.exec(select(Event).where(Event.subject == "sub_due")).first()
    assert fired is not None, "the timer did not fire without a polling tick"
    with Session(context.engine) as session:
        row = session.get(Timer, timer.id)
        assert row is not None and row.fired_at is not None
        assert row.fired_at >= timer.due_at


def test_a_stale_wake_up_never_overwrites_a_fresh_one(real_time_app: FastAPI) -> None:
    """Forces the interleaving the stress run found: pass A reads "nothing due" and is held
    there while a timer is committed (its commit kicks pass B, which plans the wake-up at the
    due time); A then plans its stale wake-up. A must not overwrite B's: the timer fires at its
    due time, not at the hour-long idle tick."""
    context = real_time_app.state.context
    worker = context.worker
    pump = worker.pump
    real_next_due = pump.next_due
    release = asyncio.Event()
    held: list[bool] = []

    async def next_due_held_once():  # type: ignore[no-untyped-def]
        due = await real_next_due()
        if not held:
            held.append(True)
            await release.wait()  # A's stale answer, returned once the timer is written
        return due

    pump.next_due = next_due_held_once  # type: ignore[method-assign]
    worker.kick()  # pass A
    deadline = time.monotonic() + 10
    while not held and time.monotonic() < deadline:
        time.sleep(0.01)
    assert held, "pass A never asked for the next due time"
    with Session(context.engine, expire_on_commit=False) as session:
        timers.schedule(
            session,
            context.clock,
            kind=KIND,
            subject="sub_stale",
            due_at=context.clock.now() + timedelta(seconds=1),
        )
        session.commit()  # kicks pass B
    time.sleep(0.5)  # B has planned its wake-up by now, unless it waits for A
    worker.loop.call_soon_threadsafe(release.set)
    deadline = time.monotonic() + 10
    fired = None
    while fired is None and time.monotonic() < deadline:
        time.sleep(0.05)
        with Session(context.engine) as session:
            fired = session.exec(select(Event).where(Event.subject == "sub_stale")).first()
    assert fired is not None, "a stale wake-up overwrote the timer's"
