"""A request that PostgreSQL ends as a deadlock victim is run again from the start, so the client
gets its answer instead of a 500, and the change is recorded once (one audit-log entry); the
worker's recording of delivery results is run again the same way.

The deadlock is real: another transaction (as the worker would, recording a delivery) locks the
client's notice, the request acknowledging the breach locks the breach notice and waits for the
notice, then the other transaction waits for the breach notice."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, text

from app.auditlog.models import AuditLogEntry
from app.breaches.models import BreachNotice
from app.clock import Clock
from app.events import outbox
from app.events.models import Delivery, Event
from app.notices.models import Notice
from tests.conftest import Tenant
from tests.helpers import claim


def wait_for_a_lock_wait(engine: Engine, state: Callable[[], str] = str) -> None:
    """Until some session of this database waits for a row lock. Autocommit: inside one
    transaction PostgreSQL answers pg_stat_activity from the snapshot of its first read, so a
    wait that began after it would never be seen."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as watcher:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            waiting = watcher.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND datname = current_database()"
                )
            ).scalar()
            if waiting:
                return
            time.sleep(0.05)
        sessions = watcher.execute(
            text(
                "SELECT state, wait_event_type, wait_event, left(query, 80) FROM "
                "pg_stat_activity WHERE datname = current_database()"
            )
        ).all()
    pytest.fail(f"nobody waited for the lock; {state()}; sessions: {sessions}")


def _breach(api: TestClient, staff: dict, tenant: Tenant) -> dict:
    """A breach affecting `tenant` (its notice and, if it has an endpoint, a delivery)."""
    response = api.post(
        "/v1/breaches",
        json={
            "aware_at": "2026-03-02T08:00:00Z",
            "nature": ["availability"],
            "description": "Outage",
            "client_ids": [tenant.id],
            "contact_point": "SCR",
        },
        headers=staff,
    )
    body: dict = response.json()
    return body


def _answered_delivery(
    app: FastAPI, api: TestClient, staff: dict, tenant: Tenant, worker: str, status: int
) -> tuple[str, str, outbox.AttemptResult]:
    """An endpoint of `tenant`, a breach, its delivery claimed by `worker`, and the receiver's
    answer `status`, not yet recorded: (endpoint id, delivery id, the result to record)."""
    endpoint = api.post(
        "/v1/webhook-endpoints", json={"url": "http://127.0.0.1:9/hook"}, headers=tenant.headers
    ).json()
    _breach(api, staff, tenant)
    context = app.state.context
    with context.engine.connect() as connection:
        delivery_id = connection.execute(
            select(Delivery.id).where(Delivery.endpoint_id == endpoint["id"])
        ).scalar_one()
    (claimed,) = claim(context.engine, context.clock, worker, timedelta(seconds=30), [delivery_id])
    result = outbox.AttemptResult(claimed, context.clock.now(), 12, status_code=status)
    return endpoint["id"], delivery_id, result


def _recording(
    engine: Engine, clock: Clock, owner: str, result: outbox.AttemptResult
) -> tuple[threading.Thread, list[object]]:
    """`owner` records `result` in a thread of its own (it will wait for a lock); the list
    gets what the recording returned, or what it raised."""
    outcome: list[object] = []

    def record() -> None:
        try:
            outcome.append(outbox.record(engine, clock, owner, [result]))
        except Exception as exc:  # shown if the test fails
            outcome.append(exc)

    recording = threading.Thread(target=record)
    recording.start()
    return recording, outcome


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_deadlock_victim_is_run_again(
    app: FastAPI, api: TestClient, staff: dict, tenant_a: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    breach = _breach(api, staff, tenant_a)
    engine = app.state.context.engine
    with engine.connect() as connection:
        part = connection.execute(
            select(BreachNotice.id).where(BreachNotice.breach_id == breach["id"])
        ).scalar_one()
        notice = connection.execute(select(Notice.id).where(Notice.subject == part)).scalar_one()
        entries_before = connection.scalar(select(func.count()).select_from(AuditLogEntry))

    answers: list[int] = []
    other = engine.connect()
    other_txn = other.begin()
    other.execute(text("UPDATE notices SET kind = kind WHERE id = :id"), {"id": notice})
    request = threading.Thread(
        target=lambda: answers.append(
            api.post(
                f"/v1/breaches/{breach['id']}/acknowledge", headers=tenant_a.headers
            ).status_code
        )
    )
    request.start()
    wait_for_a_lock_wait(engine)  # the request waits for the notice this transaction holds
    # The request waited first, so its deadlock check runs first: it is the victim, and this
    # transaction gets the breach notice once the request's first run is rolled back.
    touch = text("UPDATE breach_notices SET client_id = client_id WHERE id = :id")
    try:
        other.execute(touch, {"id": part})
        other_txn.commit()
    finally:
        other.close()
    request.join(timeout=60)
    assert answers == [200]
    assert "DeadlockDetected, run again" in caplog.text
    with engine.connect() as connection:
        entries_after = connection.scalar(select(func.count()).select_from(AuditLogEntry))
    assert entries_after == entries_before + 1


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_recording_a_delivery_runs_again_as_a_deadlock_victim(
    app: FastAPI, api: TestClient, staff: dict, tenant_a: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    """The worker records a 2xx (it locks the delivery, then marks the notice notified) while
    another transaction holds the notice and then wants the delivery: the recording is the
    victim and is run again at once, instead of waiting for its lease and sending again."""
    _, delivery_id, result = _answered_delivery(app, api, staff, tenant_a, "worker-a", 204)
    context = app.state.context
    engine = context.engine
    with engine.connect() as connection:
        notice_id = connection.execute(
            select(Notice.id)
            .join(Delivery, Notice.event_id == Delivery.event_id)
            .where(Delivery.id == delivery_id)
        ).scalar_one()

    other = engine.connect()
    other_txn = other.begin()
    other.execute(text("UPDATE notices SET kind = kind WHERE id = :id"), {"id": notice_id})
    recording, outcome = _recording(engine, context.clock, "worker-a", result)
    wait_for_a_lock_wait(engine, lambda: f"recording ended: {outcome}")
    touch = text("UPDATE deliveries SET urgent = urgent WHERE id = :id")
    try:
        other.execute(touch, {"id": delivery_id})
        other_txn.commit()
    finally:
        other.close()
    recording.join(timeout=60)
    assert "DeadlockDetected, run again" in caplog.text
    with engine.connect() as connection:
        status, notified = connection.execute(
            select(Delivery.status, Notice.notified_at)
            .join(Notice, Notice.event_id == Delivery.event_id)
            .where(Delivery.id == delivery_id)
        ).one()
    assert status == "delivered" and notified is not None


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_an_endpoint_disabled_meanwhile_is_not_disabled_again(
    app: FastAPI, api: TestClient, staff: dict, tenant_a: Tenant
) -> None:
    """Two workers record a 410 from the same endpoint at the same moment: the one that waits
    for the other's transaction must see the endpoint disabled, not disable it (and tell
    staff) a second time."""
    endpoint_id, delivery_id, gone = _answered_delivery(app, api, staff, tenant_a, "worker-b", 410)
    context = app.state.context
    engine = context.engine

    # The other worker, mid-transaction: it has disabled the endpoint, not yet committed.
    other = engine.connect()
    other_txn = other.begin()
    other.execute(
        text("UPDATE webhook_endpoints SET enabled = false WHERE id = :id"), {"id": endpoint_id}
    )
    recording, outcome = _recording(engine, context.clock, "worker-b", gone)
    wait_for_a_lock_wait(engine, lambda: f"recording ended: {outcome}")
    try:
        other_txn.commit()
    finally:
        other.close()
    recording.join(timeout=60)
    assert outcome == [[]]  # recorded, and this worker disabled nothing
    with engine.connect() as connection:
        told = connection.scalar(
            select(func.count())
            .select_from(Event)
            .where(Event.type == "endpoint.disabled", Event.subject == endpoint_id)
        )
        status = connection.scalar(select(Delivery.status).where(Delivery.id == delivery_id))
    assert told == 0  # the other worker's transaction tells staff, once
    assert status == "failed"  # the 410 is recorded all the same
