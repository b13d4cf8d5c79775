"""The worker wakes when work is committed and at the exact next due time, not on a polling
tick: here the tick is an hour, so only those two wake-ups can deliver in time."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.clock import SystemClock
from app.events import timers
from app.events.models import Event, Timer
from app.main import create_app
from app.settings import Settings
from tests.events.test_delivery import register
from tests.events.test_timers import KIND
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
    (received,) = receiver.wait_for(1, "/now", timeout=10)
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
