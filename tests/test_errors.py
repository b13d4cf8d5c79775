"""Every error is problem+json naming what is wrong, and a failed request changes nothing."""

from __future__ import annotations

import secrets

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from app.clients import service as clients_service
from app.clients.schemas import ClientCreate
from app.context import ClockDep
from app.db import SessionDep
from app.errors import PROBLEM_MEDIA_TYPE, RuleViolation
from app.routing import ServiceRoute
from tests.conftest import Tenant


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    body = response.json()
    for member in ("type", "title", "status", "detail"):
        assert body[member], member
    assert body["status"] == status
    return body


@pytest.mark.parametrize(
    ("authorization", "words"),
    [
        (None, "Missing"),
        ("dpa_" + "x" * 43, "Malformed"),  # no scheme
        ("Basic dXNlcjpwYXNz", "Malformed"),
        ("Bearer not-a-key", "Malformed"),
        ("Bearer dpa_short", "Malformed"),
        ("Bearer dpa_" + "!" * 43, "Malformed"),
        # A stable id: the key is new on each collection, and parallel runs (xdist) compare ids.
        pytest.param("Bearer dpa_" + secrets.token_urlsafe(32), "Unknown", id="unknown-key"),
    ],
)
def test_401_for_missing_malformed_and_unknown_keys(
    api: TestClient, authorization: str | None, words: str
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    body = assert_problem(api.get("/v1/clients", headers=headers), 401)
    assert words in body["detail"]


def test_401_for_a_revoked_key(api: TestClient, staff: dict, tenant_a: Tenant) -> None:
    assert api.get("/v1/me", headers=tenant_a.headers).status_code == 200
    assert api.delete(f"/v1/api-keys/{tenant_a.key_id}", headers=staff).status_code == 200
    body = assert_problem(api.get("/v1/me", headers=tenant_a.headers), 401)
    assert "revoked" in body["detail"]
    assert api.get("/v1/clients", headers=tenant_a.headers).headers["www-authenticate"] == "Bearer"


def test_403_for_a_client_key_on_a_staff_route(api: TestClient, tenant_a: Tenant) -> None:
    body = assert_problem(
        api.post(
            "/v1/clients",
            json={"name": "x", "legal_name": "x", "country": "FR"},
            headers=tenant_a.headers,
        ),
        403,
    )
    assert "staff" in body["detail"]
    assert_problem(
        api.post(f"/v1/clients/{tenant_a.id}/api-keys", json={}, headers=tenant_a.headers), 403
    )


def test_404_for_unknown_ids_and_paths(api: TestClient, staff: dict) -> None:
    body = assert_problem(api.get("/v1/clients/cli_doesnotexist", headers=staff), 404)
    assert "cli_doesnotexist" in body["detail"]
    assert_problem(api.get("/v1/nothing-here", headers=staff), 404)


def test_405_names_the_method(api: TestClient, staff: dict) -> None:
    body = assert_problem(api.put("/v1/clients", json={}, headers=staff), 405)
    assert "PUT" in body["detail"]
    assert "GET" in api.put("/v1/clients", headers=staff).headers["allow"]


def test_409_on_a_second_revocation(api: TestClient, staff: dict, tenant_a: Tenant) -> None:
    assert api.delete(f"/v1/api-keys/{tenant_a.key_id}", headers=staff).status_code == 200
    body = assert_problem(api.delete(f"/v1/api-keys/{tenant_a.key_id}", headers=staff), 409)
    assert "already revoked" in body["detail"]


def test_422_names_every_bad_field_and_creates_nothing(api: TestClient, staff: dict) -> None:
    response = api.post(
        "/v1/clients",
        json={
            "name": "",
            "legal_name": "Gamma SA",
            "country": "XX",
            "calendar": "FR-999",
            "timezone": "Mars/Olympus",
            "objection_window_days": 0,
            "surprise": 1,
        },
        headers=staff,
    )
    body = assert_problem(response, 422)
    fields = {error["field"] for error in body["errors"]}
    assert fields == {
        "body.name",
        "body.country",
        "body.calendar",
        "body.timezone",
        "body.objection_window_days",
        "body.surprise",
    }
    for name in fields:
        assert name in body["detail"]
    assert api.get("/v1/clients", headers=staff).json()["items"] == []


def test_422_for_malformed_json_and_bad_query(api: TestClient, staff: dict) -> None:
    response = api.post(
        "/v1/clients",
        content=b"{not json",
        headers={**staff, "content-type": "application/json"},
    )
    assert_problem(response, 422)
    body = assert_problem(api.get("/v1/clients?limit=0", headers=staff), 422)
    assert body["errors"][0]["field"] == "query.limit"


def test_500_is_a_problem_without_traceback(app: FastAPI, api: TestClient, staff: dict) -> None:
    def explode() -> None:
        raise RuntimeError("secret internals: connection string postgres://u:p@h")

    app.add_api_route("/v1/explode", explode, methods=["GET"])
    response = api.get("/v1/explode", headers={**staff, "X-Request-ID": "req-123"})
    body = assert_problem(response, 500)
    assert "Traceback" not in response.text
    assert "secret internals" not in response.text
    assert body["request_id"] == "req-123"
    assert response.headers["x-request-id"] == "req-123"


def test_a_request_that_fails_after_writing_changes_nothing(
    app: FastAPI, api: TestClient, staff: dict
) -> None:
    """The unit of work: rows flushed before an error are rolled back with it."""
    router = APIRouter(route_class=ServiceRoute)

    @router.post("/v1/write-then-fail")
    def write_then_fail(session: SessionDep, clock: ClockDep) -> None:
        data = ClientCreate(name="Ghost", legal_name="Ghost SAS", country="FR")
        clients_service.create_client(session, clock, data)
        raise RuleViolation("test-rule", "refused after the write")

    app.include_router(router)
    assert_problem(api.post("/v1/write-then-fail", headers=staff), 422)
    assert api.get("/v1/clients", headers=staff).json()["items"] == []
