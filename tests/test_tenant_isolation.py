"""SPEC §4 Isolation, route by route: a client key never reads, lists, changes or learns the
existence of another client's records.

The test walks the app's route table. A route whose path parameters it cannot fill, or a
route without parameters that is not classified below, fails the test: new routes must be
covered here before they can land."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.conftest import Tenant
from tests.helpers import route_table

# Pages whose credential is a single-use token from an e-mail, not an API key (SPEC §8.4): the
# token alone says whose notice it is, so a key is neither needed nor enough.
TOKEN_PAGES = ("/notices/{token}",)
# The calendar feed, read by calendar apps with its token only (SPEC §10): a guessed token is a
# 404 problem whatever key comes with it.
TOKEN_FEEDS = ("/v1/calendar-feeds/{token}.ics",)

# Routes without path parameters, and what a client key may get from them.
UNSCOPED = {
    ("GET", "/openapi.json"): "public",
    ("GET", "/docs"): "public",
    ("GET", "/docs/oauth2-redirect"): "public",
    ("GET", "/healthz"): "public",
    ("GET", "/readyz"): "public",
    ("GET", "/metrics"): "staff",
    ("GET", "/v1/me"): "own",
    ("GET", "/v1/clients"): "own",
    ("POST", "/v1/clients"): "staff",
    ("GET", "/v1/webhook-endpoints"): "own",
    ("POST", "/v1/webhook-endpoints"): "own",
    ("GET", "/v1/events"): "own",
    ("GET", "/v1/event-types"): "public",
    ("GET", "/v1/breaches"): "own",
    ("POST", "/v1/breaches"): "staff",
    ("GET", "/v1/calendar/earliest-audit-start"): "public",
    ("GET", "/v1/calendar/working-days"): "public",
    ("GET", "/v1/calendar/holidays"): "public",
    ("GET", "/v1/subprocessors"): "own",
    ("POST", "/v1/subprocessors"): "staff",
    ("GET", "/v1/subprocessor-changes"): "own",
    ("POST", "/v1/subprocessor-changes"): "staff",
    ("GET", "/v1/audit-log"): "own",
    ("GET", "/v1/audit-log/verify"): "staff",
    ("GET", "/v1/processor"): "public",
    ("PUT", "/v1/processor"): "staff",
    ("GET", "/v1/processor/versions"): "public",
    ("GET", "/v1/record"): "staff",
    ("GET", "/v1/compliance"): "staff",
}
PARAM = re.compile(r"{(\w+)}")


def seed(api: TestClient, staff: dict, tenant: Tenant, versions: int) -> None:
    """Give the tenant one object of every kind a path parameter can name."""
    contact = api.post(
        f"/v1/clients/{tenant.id}/contacts",
        json={
            "role": "dpo",
            "name": f"DPO of {tenant.name}",
            "email": "dpo@example.com",
            "communicated_at": "2026-01-01T00:00:00Z",
        },
        headers=staff,
    )
    assert contact.status_code == 201
    endpoint = api.post(
        "/v1/webhook-endpoints",
        json={"url": "http://127.0.0.1:9/never", "description": f"Receiver of {tenant.name}"},
        headers=tenant.headers,
    )
    assert endpoint.status_code == 201, endpoint.text
    ping = api.post(f"/v1/webhook-endpoints/{endpoint.json()['id']}/test", headers=tenant.headers)
    assert ping.status_code == 202, ping.text
    breach = api.post(
        "/v1/breaches",
        json={
            "aware_at": "2026-03-01T09:00:00Z",
            "nature": ["availability"],
            "description": f"Outage at {tenant.name}",
            "client_ids": [tenant.id],
            "contact_point": "SCR",
        },
        headers=staff,
    )
    assert breach.status_code == 201, breach.text
    disclosure = api.post(
        f"/v1/clients/{tenant.id}/disclosure-requests",
        json={
            "authority": f"Authority asking for {tenant.name}",
            "received_at": "2026-03-01T09:00:00Z",
            "legally_binding": True,
            "data_requested": "logs",
        },
        headers=staff,
    )
    assert disclosure.status_code == 201, disclosure.text
    audit = api.post(
        f"/v1/clients/{tenant.id}/audits",
        json={
            "kind": "documentary",
            "scope": f"Scope for {tenant.name}",
            "auditor": {"organisation": "Audit SA", "independent": True},
            "proposed_start": "2026-06-01",
            "proposed_end": "2026-06-02",
        },
        headers=tenant.headers,
    )
    assert audit.status_code == 201, audit.text
    sub = api.post(
        "/v1/subprocessors",
        json={
            "name": f"Mailer of {tenant.name}",
            "legal_entity": "Mailer SAS",
            "service": "mail",
            "processing_countries": ["FR"],
            "client_ids": [tenant.id],
        },
        headers=staff,
    )
    assert sub.status_code == 201, sub.text
    notice = api.post(
        "/v1/subprocessor-changes",
        json={
            "kind": "addition",
            "subprocessor_ids": [sub.json()["id"]],
            "description": f"Change for {tenant.name}",
            "effective_date": "2026-12-01",
        },
        headers=staff,
    )
    assert notice.status_code == 201, notice.text
    for _ in range(versions):  # version numbers are per client: A has one B lacks
        version = api.post(
            f"/v1/clients/{tenant.id}/instructions",
            json={"purposes": [f"Purpose of {tenant.name}"]},
            headers=tenant.headers,
        )
        assert version.status_code == 201, version.text
    exception = api.post(
        f"/v1/clients/{tenant.id}/security-exceptions",
        json={
            "nature": f"Exception of {tenant.name}",
            "starts_at": "2026-04-01T00:00:00Z",
            "ends_at": "2026-04-02T00:00:00Z",
            "impact_analysis": "low",
            "requested_by": "x",
        },
        headers=tenant.headers,
    )
    assert exception.status_code == 201, exception.text
    dsr = api.post(
        f"/v1/clients/{tenant.id}/data-subject-requests",
        json={
            "kind": "access",
            "subject_ref": f"Subject of {tenant.name}",
            "due_at": "2026-04-01T00:00:00Z",
        },
        headers=tenant.headers,
    )
    assert dsr.status_code == 201, dsr.text
    feed = api.post(
        f"/v1/clients/{tenant.id}/calendar-feeds", json={"name": "DPO"}, headers=tenant.headers
    )
    assert feed.status_code == 201, feed.text
    tenant.objects = {
        "feed_id": feed.json()["id"],
        "client_id": tenant.id,
        "version": str(versions),
        "other_version": "1",
        "exception_id": exception.json()["id"],
        "request_id": dsr.json()["id"],
        "contact_id": contact.json()["id"],
        "key_id": tenant.key_id,
        "endpoint_id": endpoint.json()["id"],
        "event_id": ping.json()["id"],
        "breach_id": breach.json()["id"],
        "disclosure_id": disclosure.json()["id"],
        "audit_id": audit.json()["id"],
        "subprocessor_id": sub.json()["id"],
        "change_id": notice.json()["id"],
    }


def fill(path: str, objects: dict[str, str]) -> str:
    missing = [name for name in PARAM.findall(path) if name not in objects]
    if missing:
        pytest.fail(
            f"{path}: the isolation test does not know the parameter(s) {missing}; "
            "give seed() an object of that kind so that the route is covered"
        )
    return PARAM.sub(lambda match: objects[match.group(1)], path)


def secrets_of(tenant: Tenant) -> list[str]:
    return [
        *(v for k, v in tenant.objects.items() if k not in ("version", "other_version")),
        tenant.name,
        f"DPO of {tenant.name}",
        f"Receiver of {tenant.name}",
        f"Outage at {tenant.name}",
        f"Authority asking for {tenant.name}",
        f"Scope for {tenant.name}",
        f"Mailer of {tenant.name}",
        f"Change for {tenant.name}",
        f"Purpose of {tenant.name}",
        f"Exception of {tenant.name}",
        f"Subject of {tenant.name}",
    ]


def test_every_route_hides_other_clients_records(
    app: FastAPI, api: TestClient, staff: dict, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    seed(api, staff, tenant_a, versions=2)
    seed(api, staff, tenant_b, versions=1)
    checked = 0
    for method, path in route_table(app):
        if path in TOKEN_PAGES:
            # Any key, a guessed token: the page says the link is not valid, nothing more.
            body = {"action": "acknowledge"} if method == "POST" else None
            response = api.request(
                method, fill(path, {"token": "guessed"}), data=body, headers=tenant_b.headers
            )
            assert response.status_code == 404, (method, path, response.status_code)
            assert "This link is not valid" in response.text
            for secret in secrets_of(tenant_a):
                assert secret not in response.text, (method, path, secret)
            checked += 1
            continue
        if path in TOKEN_FEEDS:
            response = api.request(
                method, fill(path, {"token": "calf_guessed"}), headers=tenant_b.headers
            )
            assert response.status_code == 404, (method, path, response.status_code)
            for secret in secrets_of(tenant_a):
                assert secret not in response.text, (method, path, secret)
            checked += 1
            continue
        if not PARAM.search(path):
            kind = UNSCOPED.get((method, path))
            assert kind is not None, (
                f"{method} {path} is not classified in UNSCOPED of the tenant isolation test"
            )
            response = api.request(method, path, json={}, headers=tenant_b.headers)
            if kind == "staff":
                assert response.status_code == 403, (method, path)
            for secret in secrets_of(tenant_a):
                assert secret not in response.text, (method, path, secret)
            checked += 1
            continue

        # B asks for A's objects, all of them and each with B's own client id: 404 every time.
        variants = [tenant_a.objects]
        if "{client_id}" in path and len(PARAM.findall(path)) > 1:
            variants.append({**tenant_a.objects, "client_id": tenant_b.id})
        for objects in variants:
            url = fill(path, objects)
            response = api.request(method, url, json={}, headers=tenant_b.headers)
            expected = 404
            if objects["client_id"] == tenant_b.id:
                # Under B's own client a staff-only route answers 403 whatever the id: the
                # answer must be the same as for an id that does not exist.
                made_up = {
                    k: v if k == "client_id" else "999999" if k.endswith("version") else "nope_0"
                    for k, v in objects.items()
                }
                control = api.request(
                    method, fill(path, made_up), json={}, headers=tenant_b.headers
                )
                expected = control.status_code
                assert expected in (403, 404), (method, path, expected)
            assert response.status_code == expected, (method, url, response.status_code)
            assert response.headers["content-type"] == "application/problem+json"
            for secret in secrets_of(tenant_a):
                if secret not in url:
                    assert secret not in response.text, (method, url, secret)
            checked += 1

        # B's own view of the same route shows nothing of A's (staff-only routes: 403).
        if method == "GET":
            response = api.get(fill(path, tenant_b.objects), headers=tenant_b.headers)
            allowed = (200, 403, 404) if path.endswith("/current") else (200, 403)
            assert response.status_code in allowed, (path, response.text)
            for secret in secrets_of(tenant_a):
                assert secret not in response.text, (path, secret)
            checked += 1
    assert checked >= len(route_table(app))

    # Nothing B tried changed A's records.
    assert api.get("/v1/me", headers=tenant_a.headers).status_code == 200
    contacts = api.get(f"/v1/clients/{tenant_a.id}/contacts", headers=tenant_a.headers).json()
    assert [c["current"] for c in contacts["items"]] == [True]


def test_the_route_table_is_walked(app: FastAPI) -> None:
    """The walker sees the routes, so the test above cannot pass by seeing none."""
    table = route_table(app)
    assert ("GET", "/v1/clients/{client_id}/contacts/{contact_id}") in table
    assert ("DELETE", "/v1/api-keys/{key_id}") in table
    assert len(table) >= 18
