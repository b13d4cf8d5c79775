"""The endpoints API: ownership, validation, and events written in the request's transaction."""

from __future__ import annotations

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from app.context import ClockDep
from app.db import SessionDep
from app.errors import RuleViolation
from app.events import contract
from app.events import service as events
from app.routing import ServiceRoute
from tests.conftest import Tenant

URL = "http://127.0.0.1:9/hook"


def test_a_client_key_owns_what_it_registers(
    api: TestClient, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    mine = api.post("/v1/webhook-endpoints", json={"url": URL}, headers=tenant_a.headers)
    assert mine.status_code == 201
    assert mine.json()["client_id"] == tenant_a.id
    assert mine.json()["secret"].startswith("whsec_")
    assert mine.json()["event_types"] == ["*"]
    theirs = api.post(
        "/v1/webhook-endpoints",
        json={"url": URL, "client_id": tenant_b.id},
        headers=tenant_a.headers,
    )
    assert theirs.status_code == 404
    staffs = api.post(
        "/v1/webhook-endpoints", json={"url": URL, "client_id": None}, headers=tenant_a.headers
    )
    assert staffs.status_code == 404
    listed = api.get("/v1/webhook-endpoints", headers=tenant_a.headers).json()["items"]
    assert [e["id"] for e in listed] == [mine.json()["id"]]
    assert "secret" not in listed[0]


def test_staff_register_their_own_and_clients_receivers(
    api: TestClient, staff: dict, tenant_a: Tenant
) -> None:
    own = api.post("/v1/webhook-endpoints", json={"url": URL}, headers=staff)
    assert own.json()["client_id"] is None
    for_client = api.post(
        "/v1/webhook-endpoints", json={"url": URL, "client_id": tenant_a.id}, headers=staff
    )
    assert for_client.json()["client_id"] == tenant_a.id
    only_a = api.get(
        "/v1/webhook-endpoints", params={"client_id": tenant_a.id}, headers=staff
    ).json()["items"]
    assert [e["id"] for e in only_a] == [for_client.json()["id"]]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": URL, "event_types": ["breach.notified", "no.such"]}, "body.event_types"),
        ({"url": URL, "event_types": ["*", "breach.notified"]}, "body.event_types"),
        ({"url": URL, "event_types": []}, "body.event_types"),
        ({"url": "ftp://example.org/x"}, "body.url"),
        ({"url": URL, "secret": "mine"}, "body.secret"),
    ],
)
def test_bad_endpoints_are_refused(api: TestClient, staff: dict, body: dict, field: str) -> None:
    response = api.post("/v1/webhook-endpoints", json=body, headers=staff)
    assert response.status_code == 422
    assert field in {error["field"] for error in response.json()["errors"]}


def test_the_contact_must_be_the_clients(
    api: TestClient, staff: dict, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    contact = api.post(
        f"/v1/clients/{tenant_b.id}/contacts",
        json={
            "role": "security",
            "name": "S",
            "email": "s@example.com",
            "communicated_at": "2026-01-01T00:00:00Z",
        },
        headers=staff,
    ).json()
    wrong = api.post(
        "/v1/webhook-endpoints",
        json={"url": URL, "client_id": tenant_a.id, "contact_id": contact["id"]},
        headers=staff,
    )
    assert wrong.status_code == 404
    right = api.post(
        "/v1/webhook-endpoints",
        json={"url": URL, "client_id": tenant_b.id, "contact_id": contact["id"]},
        headers=staff,
    )
    assert right.status_code == 201


def test_disabling_and_enabling(api: TestClient, staff: dict) -> None:
    endpoint = api.post("/v1/webhook-endpoints", json={"url": URL}, headers=staff).json()
    url = f"/v1/webhook-endpoints/{endpoint['id']}"
    off = api.patch(url, json={"enabled": False}, headers=staff).json()
    assert (off["enabled"], off["disabled_reason"]) == (False, "disabled by a user")
    assert api.post(f"{url}/test", headers=staff).status_code == 409
    on = api.patch(url, json={"enabled": True, "event_types": ["audit.requested"]}, headers=staff)
    assert on.json()["enabled"] is True
    assert on.json()["disabled_reason"] is None
    assert on.json()["event_types"] == ["audit.requested"]
    assert api.patch(url, json={"url": None}, headers=staff).status_code == 422


def test_a_request_that_fails_after_emitting_leaves_no_event(
    app: FastAPI, api: TestClient, staff: dict
) -> None:
    api.post("/v1/webhook-endpoints", json={"url": URL}, headers=staff)
    router = APIRouter(route_class=ServiceRoute)

    @router.post("/v1/emit-then-fail")
    def emit_then_fail(session: SessionDep, clock: ClockDep) -> None:
        events.emit(session, clock, "breach.reported", "brc_t", contract.example("breach.reported"))
        raise RuleViolation("test-rule", "refused after emitting")

    @router.post("/v1/emit-then-crash")
    def emit_then_crash(session: SessionDep, clock: ClockDep) -> None:
        events.emit(session, clock, "breach.reported", "brc_t", contract.example("breach.reported"))
        raise RuntimeError("crash after emitting")

    app.include_router(router)
    assert api.post("/v1/emit-then-fail", headers=staff).status_code == 422
    assert api.post("/v1/emit-then-crash", headers=staff).status_code == 500
    assert api.get("/v1/events", headers=staff).json()["items"] == []
