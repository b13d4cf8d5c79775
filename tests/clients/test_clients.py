"""Clients: staff register and change them; a client key reads only its own."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from app.clock import MovableClock
from tests.conftest import Tenant


def test_staff_register_a_client_with_defaults(api: TestClient, staff: dict) -> None:
    response = api.post(
        "/v1/clients",
        json={"name": "Zeta", "legal_name": "Zeta SARL", "country": "FR"},
        headers=staff,
    )
    assert response.status_code == 201
    client = response.json()
    assert client["id"].startswith("cli_")
    assert client["calendar"] == "FR"
    assert client["timezone"] == "Europe/Paris"
    assert client["subprocessor_authorisation"] == "general"
    assert client["objection_window_days"] == 30
    assert client["created_at"] == "2026-03-02T09:00:00Z"
    assert api.get(f"/v1/clients/{client['id']}", headers=staff).json() == client


def test_calendars_are_the_holidays_packages(api: TestClient, staff: dict) -> None:
    base = {"name": "Eta", "legal_name": "Eta SA", "country": "FR"}
    for code in ("FR", "FR-57", "DE", "DE-BY"):
        response = api.post("/v1/clients", json={**base, "calendar": code}, headers=staff)
        assert response.status_code == 201, (code, response.text)
    for code in ("FR-999", "XX", "fr", "FR-"):
        response = api.post("/v1/clients", json={**base, "calendar": code}, headers=staff)
        assert response.status_code == 422, code
        assert response.json()["errors"][0]["field"] == "body.calendar"


def test_a_client_key_reads_only_its_own_client(
    api: TestClient, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    listed = api.get("/v1/clients", headers=tenant_a.headers).json()["items"]
    assert [c["id"] for c in listed] == [tenant_a.id]
    assert api.get(f"/v1/clients/{tenant_b.id}", headers=tenant_a.headers).status_code == 404


def test_staff_change_only_the_fields_sent(
    api: TestClient, staff: dict, tenant_a: Tenant, clock: MovableClock
) -> None:
    clock.advance(timedelta(hours=1))
    response = api.patch(
        f"/v1/clients/{tenant_a.id}",
        json={"timezone": "America/Martinique", "contract_ref": "DPA-7"},
        headers=staff,
    )
    assert response.status_code == 200
    client = response.json()
    assert (client["timezone"], client["contract_ref"], client["name"]) == (
        "America/Martinique",
        "DPA-7",
        tenant_a.name,
    )
    assert client["updated_at"] == "2026-03-02T10:00:00Z"
    assert client["created_at"] == "2026-03-02T09:00:00Z"

    refused = api.patch(f"/v1/clients/{tenant_a.id}", json={"name": None}, headers=staff)
    assert refused.status_code == 422
    assert "name cannot be null" in refused.text
    forbidden = api.patch(
        f"/v1/clients/{tenant_a.id}", json={"name": "x"}, headers=tenant_a.headers
    )
    assert forbidden.status_code == 403


def test_pages_newest_first_with_a_cursor_and_date_filters(
    api: TestClient, staff: dict, clock: MovableClock
) -> None:
    ids = []
    for number in range(5):
        clock.advance(timedelta(minutes=1))
        response = api.post(
            "/v1/clients",
            json={"name": f"C{number}", "legal_name": f"C{number} SA", "country": "FR"},
            headers=staff,
        )
        ids.append(response.json()["id"])
    seen, cursor = [], None
    while True:
        query = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = api.get("/v1/clients", params=query, headers=staff).json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))

    window = api.get(
        "/v1/clients",
        params={"created_after": "2026-03-02T09:02:00Z", "created_before": "2026-03-02T09:04:00Z"},
        headers=staff,
    ).json()["items"]
    assert [c["name"] for c in window] == ["C2", "C1"]

    bad = api.get("/v1/clients", params={"cursor": "garbage!"}, headers=staff)
    assert bad.status_code == 422
    assert bad.json()["rule"] == "pagination-cursor"
    naive = api.get("/v1/clients", params={"created_after": "2026-03-02T09:02:00"}, headers=staff)
    assert naive.status_code == 422
