"""SPEC §13, bad input is never a 500: each case here was a 500 once (an overflow moving an
instant at the calendar's edge to UTC, a date counted past year 9999, a host IDNA could not
encode, a NUL byte PostgreSQL refuses). Now a 422 problem naming what is wrong, on SQLite and
PostgreSQL alike, and nothing is written."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func
from sqlmodel import Session, select

from app.clients.models import Client, Contact
from tests.conftest import Tenant

EDGE = "0001-01-01T00:00:00+01:00"
FAR = "9999-12-31T23:59:59-01:00"


def cases(tenant: Tenant) -> list[tuple[str, str, dict | None, str]]:
    contact = {"role": "dpo", "name": "x", "email": "a@b.fr"}
    return [
        ("GET", f"/v1/clients?created_after={EDGE.replace('+', '%2B')}", None, "created_after"),
        ("GET", "/v1/clients?created_before=0001-01-01T00:00:00Z", None, "created_before"),
        (
            "GET",
            "/v1/clients?cursor=WyIwMDAxLTAxLTAxVDAwOjAwOjAwKzAxOjAwIiwgImNsaV94Il0",
            None,
            "cursor",
        ),
        (
            "POST",
            f"/v1/clients/{tenant.id}/contacts",
            {**contact, "communicated_at": EDGE},
            "communicated_at",
        ),
        (
            "POST",
            f"/v1/clients/{tenant.id}/data-subject-requests",
            {"kind": "erasure", "subject_ref": "x", "due_at": FAR},
            "due_at",
        ),
        ("GET", "/v1/calendar/earliest-audit-start?received=9999-12-31", None, "received"),
        ("GET", "/v1/calendar/working-days?start=9999-12-20&days=30", None, "start"),
        (
            "POST",
            "/v1/webhook-endpoints",
            {"url": "https://a..b/", "client_id": tenant.id},
            "url",
        ),
        ("POST", "/v1/clients", {"name": "A\u0000B", "legal_name": "x", "country": "FR"}, "body"),
        ("GET", "/v1/clients?status=a%00b", None, "query"),
        ("GET", f"/v1/clients/{tenant.id}%00", None, "path"),
        (
            "POST",
            f"/v1/clients/{tenant.id}/contacts",
            {**contact, "name": "Nul\u0000", "communicated_at": "2026-01-01T00:00:00Z"},
            "body",
        ),
    ]


def test_each_former_500_is_a_422_naming_the_field(
    api: TestClient, staff: dict, tenant_a: Tenant, session: Session
) -> None:
    clients = session.exec(select(func.count()).select_from(Client)).one()
    for method, url, body, field in cases(tenant_a):
        response = api.request(method, url, json=body, headers=staff)
        assert response.status_code == 422, (method, url, response.status_code, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        named = [e["field"] for e in problem.get("errors", [])]
        assert any(field in name for name in named), (url, named)
    session.expire_all()
    assert session.exec(select(func.count()).select_from(Client)).one() == clients
    assert session.exec(select(func.count()).select_from(Contact)).one() == 0


@pytest.mark.parametrize(
    "url",
    [
        "https://🯱🯲🯷.🯰.🯰.🯱:9912/",  # noqa: RUF001  UTS-46 maps these digits to 127.0.0.1
        "https://ＥＸＡＭＰＬＥ。com/hook",  # noqa: RUF001  full-width: not the host as written
    ],
)
def test_a_host_the_http_client_would_read_differently_is_refused(
    api: TestClient, tenant_a: Tenant, url: str
) -> None:
    response = api.post("/v1/webhook-endpoints", json={"url": url}, headers=tenant_a.headers)
    assert response.status_code == 422, response.text
    assert response.json()["rule"] == "webhook-url-ssrf"
