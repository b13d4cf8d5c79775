"""A request that PostgreSQL ends as a deadlock victim is run again from the start, so the client
gets its answer instead of a 500, and the change is recorded once (one audit-log entry).

The deadlock is real: another transaction (as the worker would, recording a delivery) locks the
client's notice, the request acknowledging the breach locks the breach notice and waits for the
notice, then the other transaction waits for the breach notice."""

from __future__ import annotations

import threading
import time

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from app.auditlog.models import AuditLogEntry
from app.breaches.models import BreachNotice
from app.notices.models import Notice
from tests.conftest import Tenant


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_deadlock_victim_is_run_again(
    app: FastAPI, api: TestClient, staff: dict, tenant_a: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    breach = api.post(
        "/v1/breaches",
        json={
            "aware_at": "2026-03-02T08:00:00Z",
            "nature": ["availability"],
            "description": "Outage",
            "client_ids": [tenant_a.id],
            "contact_point": "SCR",
        },
        headers=staff,
    ).json()
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
    # Until the request waits for the notice this transaction holds.
    with engine.connect() as watcher:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            waiting = watcher.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND datname = current_database()"
                )
            ).scalar()
            if waiting:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the request never waited for the notice")
    try:
        other.execute(
            text("UPDATE breach_notices SET client_id = client_id WHERE id = :id"), {"id": part}
        )
        other_txn.commit()
    except Exception:  # PostgreSQL may pick this side as the victim instead
        other_txn.rollback()
    finally:
        other.close()
    request.join(timeout=60)
    assert answers == [200]
    with engine.connect() as connection:
        entries_after = connection.scalar(select(func.count()).select_from(AuditLogEntry))
    assert entries_after == entries_before + 1
