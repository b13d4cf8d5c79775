"""Idempotency-Key on POST (SPEC §3): a retry returns the first answer and creates nothing."""

from __future__ import annotations

import gc

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func
from sqlmodel import Session, select

from app.auth import service as auth_service
from app.auth.schemas import Role
from app.clients.models import Client
from tests.conftest import Tenant, bearer

BODY = {"name": "Theta", "legal_name": "Theta SAS", "country": "FR"}


def count_clients(session: Session) -> int:
    return session.exec(select(func.count()).select_from(Client)).one()


def test_same_key_and_body_returns_the_first_response_and_one_row(
    api: TestClient, staff: dict, session: Session
) -> None:
    headers = {**staff, "Idempotency-Key": "create-theta-1"}
    first = api.post("/v1/clients", json=BODY, headers=headers)
    again = api.post("/v1/clients", json=BODY, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["content-type"] == "application/json"
    assert count_clients(session) == 1


def test_a_replay_gives_its_connection_back(app: FastAPI, api: TestClient, staff: dict) -> None:
    """Answering a retry from the stored response ends the lookup's transaction: the request's
    pooled connection is back once the answer is sent, not when the garbage collector finds the
    session (on PostgreSQL it stayed idle in a transaction; retries could drain the pool)."""
    headers = {**staff, "Idempotency-Key": "create-theta-pool"}
    assert api.post("/v1/clients", json=BODY, headers=headers).status_code == 201
    pool = app.state.context.engine.pool
    gc.disable()  # a collection would return a forgotten connection and hide the leak
    try:
        again = api.post("/v1/clients", json=BODY, headers=headers)
        assert again.headers["idempotent-replayed"] == "true"
        assert pool.checkedout() == 0  # type: ignore[attr-defined]
    finally:
        gc.enable()


def test_same_key_with_another_body_is_refused(
    api: TestClient, staff: dict, session: Session
) -> None:
    headers = {**staff, "Idempotency-Key": "create-theta-2"}
    assert api.post("/v1/clients", json=BODY, headers=headers).status_code == 201
    other = api.post("/v1/clients", json={**BODY, "name": "Iota"}, headers=headers)
    assert other.status_code == 422
    assert other.headers["content-type"] == "application/problem+json"
    assert other.json()["rule"] == "idempotency-key-reuse"
    assert count_clients(session) == 1


def test_keys_are_per_caller(api: TestClient, staff: dict, tenant_a: Tenant) -> None:
    contact = {
        "role": "other",
        "name": "N",
        "email": "n@example.com",
        "communicated_at": "2026-01-01T00:00:00Z",
    }
    url = f"/v1/clients/{tenant_a.id}/contacts"
    by_staff = api.post(url, json=contact, headers={**staff, "Idempotency-Key": "k"})
    by_client = api.post(url, json=contact, headers={**tenant_a.headers, "Idempotency-Key": "k"})
    assert by_staff.status_code == by_client.status_code == 201
    assert by_staff.json()["id"] != by_client.json()["id"]


def test_a_key_is_the_same_caller_however_its_header_is_spelled(
    api: TestClient, staff: dict, session: Session
) -> None:
    key = staff["Authorization"].split(" ", 1)[1]
    spellings = [f"Bearer {key}", f"bearer {key}", f"Bearer  {key}", f"BEARER {key} "]
    answers = [
        api.post(
            "/v1/clients",
            json=BODY,
            headers={"Authorization": spelling, "Idempotency-Key": "spelled"},
        )
        for spelling in spellings
    ]
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["id"] for a in answers}) == 1
    assert count_clients(session) == 1


def test_a_revoked_key_gets_401_not_a_replay(
    api: TestClient, staff: dict, tenant_a: Tenant
) -> None:
    """The stored answer carries a shown-once secret: only the live key that made the request
    may have it again."""
    context = api.app.state.context  # type: ignore[attr-defined]
    with Session(context.engine) as db:  # a second staff key, as `dpa keys create` makes one
        _key, plain = auth_service.create_key(
            db, context.clock, context.settings.key_hash_secret, role=Role.staff
        )
        db.commit()
    other_staff = bearer(plain)
    url = f"/v1/clients/{tenant_a.id}/api-keys"
    headers = {**staff, "Idempotency-Key": "new-key"}
    first = api.post(url, json={"name": "spare"}, headers=headers)
    assert first.status_code == 201, first.text
    me = api.get("/v1/me", headers=staff).json()["key_id"]
    assert api.delete(f"/v1/api-keys/{me}", headers=other_staff).status_code == 200
    replay = api.post(url, json={"name": "spare"}, headers=headers)
    assert replay.status_code == 401
    assert replay.headers["content-type"] == "application/problem+json"
    assert first.json()["key"] not in replay.text
    unknown = api.post(
        url,
        json={"name": "spare"},
        headers={"Authorization": "Bearer dpa_" + "A" * 43, "Idempotency-Key": "new-key"},
    )
    assert unknown.status_code == 401


def test_a_refused_request_is_not_remembered(
    api: TestClient, staff: dict, session: Session
) -> None:
    headers = {**staff, "Idempotency-Key": "fix-and-retry"}
    assert (
        api.post("/v1/clients", json={**BODY, "country": "XX"}, headers=headers).status_code == 422
    )
    assert api.post("/v1/clients", json=BODY, headers=headers).status_code == 201
    assert count_clients(session) == 1


def test_an_overlong_key_is_refused(api: TestClient, staff: dict, session: Session) -> None:
    response = api.post("/v1/clients", json=BODY, headers={**staff, "Idempotency-Key": "k" * 256})
    assert response.status_code == 422
    assert count_clients(session) == 0


def test_keys_are_remembered_for_seven_days(
    api: TestClient, staff: dict, session: Session, clock
) -> None:
    from datetime import timedelta

    from app import idempotency

    headers = {**staff, "Idempotency-Key": "weekly"}
    assert api.post("/v1/clients", json=BODY, headers=headers).status_code == 201
    engine = session.get_bind()
    clock.advance(timedelta(days=6, hours=23))
    assert idempotency.purge(engine, clock.now()) == 0
    assert api.post("/v1/clients", json=BODY, headers=headers).headers["idempotent-replayed"]
    clock.advance(timedelta(hours=2))
    assert idempotency.purge(engine, clock.now()) == 1
    again = api.post("/v1/clients", json=BODY, headers=headers)
    assert again.status_code == 201
    assert "idempotent-replayed" not in again.headers
    assert count_clients(session) == 2
