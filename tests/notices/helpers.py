"""Helpers the notice tests share: a client's endpoint and contacts, a change notice."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import Tenant
from tests.receiver import Receiver


def endpoint(api: TestClient, headers: dict, receiver: Receiver, path: str, **fields) -> None:
    response = api.post(
        "/v1/webhook-endpoints", json={"url": receiver.url(path), **fields}, headers=headers
    )
    assert response.status_code == 201, response.text
    receiver.trust(path, response.json()["secret"])


def contact(api: TestClient, tenant: Tenant, role: str, email: str) -> None:
    response = api.post(
        f"/v1/clients/{tenant.id}/contacts",
        json={"role": role, "name": role, "email": email, "communicated_at": "2026-01-01T00:00Z"},
        headers=tenant.headers,
    )
    assert response.status_code == 201, response.text


def announce(api: TestClient, staff: dict, client_ids: list[str], effective_date: str) -> dict:
    """A new sub-processor for these clients, and the change notice that tells them."""
    sub = api.post(
        "/v1/subprocessors",
        json={
            "name": "Brevo",
            "legal_entity": "Sendinblue SAS",
            "service": "Mailing",
            "processing_countries": ["FR"],
            "client_ids": client_ids,
            "agreement_ref": "SPA-2026-020",
            "agreement_signed_on": "2026-02-01",
        },
        headers=staff,
    ).json()
    created = api.post(
        "/v1/subprocessor-changes",
        json={
            "kind": "addition",
            "subprocessor_ids": [sub["id"]],
            "description": "New mailer",
            "effective_date": effective_date,
        },
        headers=staff,
    )
    assert created.status_code == 201, created.text
    return {"subprocessor_id": sub["id"], "change_id": created.json()["id"]}
