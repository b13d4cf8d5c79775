"""/metrics shows deliveries by outcome, the pending count and the oldest pending age."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlmodel import Session, col

from app.clock import WALL_CLOCK, MovableClock
from app.events import contract
from app.events import service as events
from app.events.models import Delivery
from tests.conftest import settle
from tests.helpers import emit, register
from tests.receiver import Answer, Receiver


def metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.split(" ")[0] == name:
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in /metrics")


def test_delivery_metrics(
    live_app: FastAPI, live: TestClient, staff: dict, receiver: Receiver, clock: MovableClock
) -> None:
    # Refused with a retry an hour away: moving the clock 90 s makes nothing due, so no retry
    # can slip in between the move and the read.
    receiver.script("/down", default=Answer(503, headers={"retry-after": "3600"}))
    register(live, staff, receiver, "/up", event_types=["audit.requested"])
    register(live, staff, receiver, "/down", event_types=["audit.requested"])
    emit(live_app, "audit.requested", "aud_m", {}, None)
    settle(live_app)
    clock.advance(timedelta(seconds=90))
    text = live.get("/metrics", headers=staff).text
    assert metric(text, 'dpa_deliveries{status="delivered"}') == 1
    assert metric(text, 'dpa_deliveries{status="pending"}') == 1
    assert metric(text, 'dpa_deliveries{status="failed"}') == 0
    assert metric(text, "dpa_delivery_oldest_pending_age_seconds") == 90
    assert metric(text, 'dpa_webhook_attempts_total{outcome="success"}') == 1
    assert metric(text, 'dpa_webhook_attempts_total{outcome="failure"}') == 1
    assert "dpa_timers_pending" in text
    assert metric(text, "dpa_breach_timers_open") == 0


def test_an_interrupted_claim_is_counted_and_sent_again(
    live_app: FastAPI, live: TestClient, staff: dict, receiver: Receiver
) -> None:
    """A delivery left claimed by a worker that stopped: the running worker logs it as
    interrupted, counts it, and sends it."""
    register(live, staff, receiver, "/scr", event_types=["audit.requested"])
    context = live_app.state.context
    with Session(context.engine) as session:
        event_id = events.emit(
            session, context.clock, "audit.requested", "aud_i", contract.example("audit.requested")
        ).id
        session.flush()
        session.execute(
            update(Delivery)
            .where(col(Delivery.event_id) == event_id)
            .values(lease_owner="stopped-worker", lease_expires_at=WALL_CLOCK.now())
        )
        session.commit()
    settle(live_app)

    assert [r.webhook_id for r in receiver.received] == [event_id]
    text = live.get("/metrics", headers=staff).text
    assert metric(text, 'dpa_webhook_attempts_total{outcome="interrupted"}') == 1
    assert metric(text, 'dpa_webhook_attempts_total{outcome="success"}') == 1
    outcomes = [
        a["outcome"]
        for a in live.get(f"/v1/events/{event_id}/attempts", headers=staff).json()["items"]
    ]
    assert sorted(outcomes) == ["interrupted", "success"]
