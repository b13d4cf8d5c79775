"""SSRF guard (SPEC §9): with private receivers not allowed, unsafe URLs are refused at
registration (problem+json) and at delivery (a failed attempt, no connection)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.clock import MovableClock
from app.events import contract
from app.events import service as events
from app.events.ssrf import UnsafeURL, check_url
from app.main import create_app
from tests.conftest import Tenant, make_settings, settle
from tests.pg import free_port
from tests.receiver import Receiver

UNSAFE = [
    "http://dpo.example.fr/hook",  # not https
    "https://user:pass@dpo.example.fr/hook",  # credentials
    "https://127.0.0.1/hook",
    "https://127.8.9.10/hook",
    "https://10.1.2.3/hook",
    "https://172.16.0.1/hook",
    "https://172.31.255.254/hook",
    "https://192.168.1.1/hook",
    "https://169.254.169.254/latest/meta-data",
    "https://0.0.0.0/hook",
    "https://[::1]/hook",
    "https://[fc00::1]/hook",
    "https://[fd12:3456::1]/hook",
    "https://[::ffff:127.0.0.1]/hook",
    "https://[::ffff:10.0.0.1]/hook",
    "https://localhost/hook",  # resolves to loopback
    "https://localhost.:8443/hook",
]


@pytest.mark.parametrize("url", UNSAFE)
def test_the_guard_refuses(url: str) -> None:
    with pytest.raises(UnsafeURL):
        check_url(url, allow_private=False)


def test_public_literals_pass() -> None:
    check_url("https://93.184.215.14/hook", allow_private=False)
    check_url("https://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]/hook", allow_private=False)


@pytest.fixture
def strict(database_url: str, tmp_path: Path, clock: MovableClock):
    settings = make_settings(database_url, tmp_path, webhook_allow_private=False)
    app = create_app(settings, clock, bootstrap=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield app, client


@pytest.mark.parametrize("url", UNSAFE[:3] + UNSAFE[8:9] + UNSAFE[13:16])
def test_registration_refuses_with_a_problem(strict, staff: dict, url: str) -> None:
    _app, client = strict
    response = client.post("/v1/webhook-endpoints", json={"url": url}, headers=staff)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["rule"] == "webhook-url-ssrf"
    assert body["errors"][0]["field"] == "body.url"
    assert client.get("/v1/webhook-endpoints", headers=staff).json()["items"] == []


def test_delivery_refuses_a_private_address_without_connecting(
    api: TestClient,
    staff: dict,
    receiver: Receiver,
    database_url: str,
    tmp_path: Path,
    clock: MovableClock,
) -> None:
    """An endpoint that became unsafe after registration (here: registered while private
    receivers were allowed) is checked again when connecting, and refused."""
    created = api.post(
        "/v1/webhook-endpoints", json={"url": receiver.url("/inside")}, headers=staff
    )
    assert created.status_code == 201
    settings = make_settings(
        database_url, tmp_path, webhook_allow_private=False, worker_enabled=True
    )
    app = create_app(settings, clock, bootstrap=False)
    with TestClient(app) as strict_client:
        with Session(app.state.context.engine) as session:
            events.emit(
                session, clock, "breach.reported", "brc_x", contract.example("breach.reported")
            )
            session.commit()
        settle(app)
        attempts = strict_client.get(
            f"/v1/webhook-endpoints/{created.json()['id']}/attempts", headers=staff
        ).json()["items"]
    assert receiver.received == []
    assert len(attempts) == 1
    assert attempts[0]["outcome"] == "failure"
    assert attempts[0]["status_code"] is None
    assert "refused before connecting" in attempts[0]["error"]
    assert "https" in attempts[0]["error"]


def test_a_host_name_is_checked_when_the_connection_resolves_it(
    api: TestClient,
    staff: dict,
    receiver: Receiver,
    database_url: str,
    tmp_path: Path,
    clock: MovableClock,
) -> None:
    """DNS is asked again at connection time, by the connection itself: a name that resolves
    to a private address is refused there, and nothing is sent."""
    created = api.post(
        "/v1/webhook-endpoints",
        json={"url": f"https://localhost:{receiver.port}/inside"},
        headers=staff,
    )
    assert created.status_code == 201
    settings = make_settings(
        database_url, tmp_path, webhook_allow_private=False, worker_enabled=True
    )
    app = create_app(settings, clock, bootstrap=False)
    with TestClient(app) as strict_client:
        with Session(app.state.context.engine) as session:
            events.emit(
                session, clock, "breach.reported", "brc_y", contract.example("breach.reported")
            )
            session.commit()
        settle(app)
        (attempt,) = strict_client.get(
            f"/v1/webhook-endpoints/{created.json()['id']}/attempts", headers=staff
        ).json()["items"]
    assert receiver.received == []
    assert attempt["error"].startswith("refused before connecting: localhost resolves to")


def test_a_connection_error_names_no_address(
    live_app: FastAPI, live: TestClient, tenant_a: Tenant
) -> None:
    """The attempt log is shown to clients: 'could not connect', never the address and port
    it tried (which would make the service a port scanner)."""
    port = free_port()  # nothing listens there
    created = live.post(
        "/v1/webhook-endpoints",
        json={"url": f"http://127.0.0.1:{port}/hook"},
        headers=tenant_a.headers,
    ).json()
    live.post(f"/v1/webhook-endpoints/{created['id']}/test", headers=tenant_a.headers)
    settle(live_app)
    attempts = live.get(
        f"/v1/webhook-endpoints/{created['id']}/attempts", headers=tenant_a.headers
    ).json()["items"]
    assert [a["error"] for a in attempts] == ["could not connect"]
    assert str(port) not in json.dumps(attempts)
