"""Contacts communicated in writing (seed §2.3): one current DPO, the history kept."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import Tenant


def dpo(name: str, communicated_at: str) -> dict:
    return {
        "role": "dpo",
        "name": name,
        "email": f"{name.lower()}@example.com",
        "communicated_at": communicated_at,
        "document_ref": f"letter-{name}",
    }


def test_naming_a_new_dpo_ends_the_previous_term_and_keeps_history(
    api: TestClient, tenant_a: Tenant
) -> None:
    url = f"/v1/clients/{tenant_a.id}/contacts"
    first = api.post(url, json=dpo("Claire", "2026-01-05T10:00:00+01:00"), headers=tenant_a.headers)
    assert first.status_code == 201
    assert first.json()["current"] is True
    second = api.post(url, json=dpo("Marc", "2026-02-10T09:00:00Z"), headers=tenant_a.headers)
    assert second.status_code == 201

    history = api.get(url, params={"role": "dpo"}, headers=tenant_a.headers).json()["items"]
    assert [(c["name"], c["current"]) for c in history] == [("Marc", True), ("Claire", False)]
    claire = history[1]
    assert claire["ended_at"] == "2026-02-10T09:00:00Z"
    assert claire["replaced_by_id"] == second.json()["id"]
    assert claire["communicated_at"] == "2026-01-05T09:00:00Z"  # stored and answered in UTC

    current = api.get(url, params={"role": "dpo", "current": True}, headers=tenant_a.headers)
    assert [c["name"] for c in current.json()["items"]] == ["Marc"]


def test_other_roles_coexist(api: TestClient, staff: dict, tenant_a: Tenant) -> None:
    url = f"/v1/clients/{tenant_a.id}/contacts"
    for role in ("security", "security", "privacy"):
        body = {
            "role": role,
            "name": role,
            "email": "x@example.com",
            "communicated_at": "2026-01-01T00:00:00Z",
        }
        assert api.post(url, json=body, headers=staff).status_code == 201
    current = api.get(url, params={"current": True}, headers=staff).json()["items"]
    assert sorted(c["role"] for c in current) == ["privacy", "security", "security"]


def test_a_successor_cannot_predate_the_current_dpo(api: TestClient, tenant_a: Tenant) -> None:
    url = f"/v1/clients/{tenant_a.id}/contacts"
    api.post(url, json=dpo("Claire", "2026-02-01T00:00:00Z"), headers=tenant_a.headers)
    refused = api.post(url, json=dpo("Early", "2026-01-01T00:00:00Z"), headers=tenant_a.headers)
    assert refused.status_code == 422
    assert refused.json()["rule"] == "dpo-succession-order"


def test_communicated_at_cannot_be_in_the_future(api: TestClient, tenant_a: Tenant) -> None:
    url = f"/v1/clients/{tenant_a.id}/contacts"
    refused = api.post(url, json=dpo("Future", "2026-03-02T09:00:01Z"), headers=tenant_a.headers)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "body.communicated_at"
    bad_email = api.post(
        url,
        json={**dpo("X", "2026-01-01T00:00:00Z"), "email": "not-an-email"},
        headers=tenant_a.headers,
    )
    assert bad_email.status_code == 422
    assert bad_email.json()["errors"][0]["field"] == "body.email"


def test_ending_a_term(api: TestClient, tenant_a: Tenant) -> None:
    url = f"/v1/clients/{tenant_a.id}/contacts"
    contact = api.post(url, json=dpo("Claire", "2026-01-01T00:00:00Z"), headers=tenant_a.headers)
    contact_id = contact.json()["id"]
    ended = api.post(f"{url}/{contact_id}/end", headers=tenant_a.headers)
    assert ended.status_code == 200
    assert ended.json()["ended_at"] == "2026-03-02T09:00:00Z"
    assert api.post(f"{url}/{contact_id}/end", headers=tenant_a.headers).status_code == 409
    assert api.get(f"{url}/{contact_id}", headers=tenant_a.headers).json()["current"] is False
    # With no current DPO, a new one starts without ending anyone.
    new = api.post(url, json=dpo("Marc", "2026-03-01T00:00:00Z"), headers=tenant_a.headers)
    assert new.status_code == 201
