"""SPEC §9 Isolation: a receiver that accepts connections and never answers holds a few of a
worker's slots, never the other endpoints' turn."""

from __future__ import annotations

import time

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from app.events import contract
from app.events import service as events
from app.events.models import Delivery, DeliveryAttempt
from tests.helpers import register
from tests.receiver import Answer, Receiver


def test_a_blackholed_endpoint_does_not_delay_twenty_healthy_ones(
    live_app: FastAPI, live: TestClient, staff: dict, receiver: Receiver
) -> None:
    receiver.script("/dead", default=Answer(blackhole=True))
    register(live, staff, receiver, "/dead", event_types=["audit.requested", "audit.reminder"])
    for number in range(20):
        register(live, staff, receiver, f"/healthy-{number}", event_types=["audit.requested"])
    context = live_app.state.context
    with Session(context.engine) as session:
        # More work for the dead endpoint than a worker has slots, and older, so it comes first.
        for number in range(context.settings.delivery_concurrency + 6):
            events.emit(
                session,
                context.clock,
                "audit.reminder",
                f"rem_{number}",
                contract.example("audit.reminder"),
            )
        session.commit()
    with Session(context.engine) as session:  # then 5 events, each to the 21 endpoints
        for number in range(5):
            events.emit(
                session,
                context.clock,
                "audit.requested",
                f"aud_{number}",
                contract.example("audit.requested"),
            )
        session.commit()

    def healthy(received: list) -> list:
        return [r for r in received if r.path.startswith("/healthy-")]

    receiver.wait_until(lambda received: len(healthy(received)) == 100, timeout=10)
    engine = context.engine
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and delivered(engine) < 100:
        time.sleep(0.05)  # the last attempts are being recorded
    # Every healthy delivery is done and recorded while the dead endpoint's requests hang:
    # at most the per-endpoint cap of them are in flight, and none has come back.
    assert delivered(engine) == 100
    dead = receiver.at("/dead")
    assert 1 <= len(dead) <= context.settings.endpoint_concurrency
    with Session(engine) as session:
        attempts = session.exec(select(func.count()).select_from(DeliveryAttempt)).one()
    assert attempts == 100
    receiver.released.set()  # let the hung requests go before the worker shuts down


def delivered(engine) -> int:
    with Session(engine) as session:
        return session.exec(
            select(func.count()).select_from(Delivery).where(Delivery.status == "delivered")
        ).one()
