"""SSRF guard (SPEC §9): with private receivers not allowed, unsafe URLs are refused at
registration (problem+json) and at delivery (a failed attempt, no connection)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlmodel import Session

from app.clock import MovableClock
from app.events import contract
from app.events import service as events
from app.events.ssrf import UnsafeURL, check_before_connecting, check_url, check_written
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


def _verdict(check: Callable[[str, bool], None], url: str, allow_private: bool) -> str | None:
    """None if the URL passes, else the words of its refusal."""
    try:
        check(url, allow_private)
    except UnsafeURL as exc:
        return str(exc)
    return None


# Pieces of URLs, tricky ones among them: characters the parsers drop or stop at, non-ASCII
# digits and letters that map to ASCII, an authority that looks ended early, bad ports.
_LEADS = ["", " ", "\t", "\x00"]
_SCHEMES = ["https", "http", "HTTPS", "ftp", "", "h ttp"]
_SEPARATORS = ["://", ":", ":/", "//", ":\t//", ":/\t/", ":?//"]
_USERS = ["", "user@", "user:pass@", "@", "a.com\\@", "a.com?@"]
_HOSTS = [
    "dpo.example.fr",
    "Dpo.Example.FR",
    "93.184.215.14",
    "127.0.0.1",
    "10.1.2.3",
    "[::1]",
    "[::ffff:127.0.0.1]",
    "[2606:2800:21f:cb07:6820:80da:af6b:8b2c]",
    "[::1",
    "localhost",
    "\uff45xample.com",  # a full-width e
    "\uff11\uff12\uff17.\uff10.\uff10.\uff11",  # full-width digits: 127.0.0.1
    "exa\tmple.com",
    "a..b",
    "x" * 70 + ".com",
    "",
]
_PORTS = ["", ":", ":0", ":443", ":8443", ":99999", ":abc"]
_RESTS = st.text(alphabet="/?#\\@:%. \tab1", max_size=12)
_URLS = st.one_of(
    st.builds(
        lambda *parts: "".join(parts),
        st.sampled_from(_LEADS),
        st.sampled_from(_SCHEMES),
        st.sampled_from(_SEPARATORS),
        st.sampled_from(_USERS),
        st.sampled_from(_HOSTS),
        st.sampled_from(_PORTS),
        _RESTS,
    ),
    # Authorities that pass, then anything: the remembered verdict is what is tested here.
    st.builds(
        lambda *parts: "".join(parts),
        st.sampled_from(["https://", "http://"]),
        st.sampled_from(["dpo.example.fr", "93.184.215.14", "127.0.0.1", "[::1]"]),
        st.sampled_from(["", ":8443"]),
        _RESTS,
    ),
    st.text(alphabet="htps:/?#@[]:.1270a\\ \t", max_size=30),
)


@given(url=_URLS, allow_private=st.booleans())
@settings(max_examples=1000, deadline=None)
def test_the_check_at_connection_time_judges_a_url_as_the_whole_check_does(
    url: str, allow_private: bool
) -> None:
    """The connection-time check remembers the authorities (scheme, user, host, port) that
    passed and judges other URLs of the same authority by it: it must agree with the whole
    check on every URL, including after one of the same authority was judged (examples share
    the remembered authorities)."""
    assert _verdict(check_before_connecting, url, allow_private) == _verdict(
        check_written, url, allow_private
    )
