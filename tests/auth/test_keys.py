"""API keys: shown once, kept only as a keyed hash, revocable with immediate effect."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import Session

from app.auth import service as auth_service
from app.auth.models import BootstrapMarker
from app.auth.schemas import Role
from app.clock import MovableClock
from app.db import short_read
from app.main import create_app
from tests.conftest import SECRET, Tenant, bearer, make_tenant

KEY_SHAPE = re.compile(r"^dpa_[A-Za-z0-9_-]{43}$")


def test_the_database_holds_no_key_in_plain_text(
    api: TestClient, staff: dict, tenant_a: Tenant, session: Session
) -> None:
    response = api.post(f"/v1/clients/{tenant_a.id}/api-keys", json={"name": "sync"}, headers=staff)
    plain = response.json()["key"]
    assert KEY_SHAPE.match(plain)
    rows = session.exec(text("SELECT * FROM api_keys")).all()  # type: ignore[call-overload]
    assert len(rows) == 3  # staff, tenant_a's first key, this one
    secret_part = plain[len("dpa_") :]
    for row in rows:
        for value in row:
            assert secret_part not in str(value)
    # The list never shows a secret either.
    listed = api.get(f"/v1/clients/{tenant_a.id}/api-keys", headers=staff).text
    assert secret_part not in listed
    assert "key_hash" not in listed


def test_a_revoked_key_fails_on_the_very_next_request(
    api: TestClient, staff: dict, tenant_a: Tenant
) -> None:
    assert api.get(f"/v1/clients/{tenant_a.id}", headers=tenant_a.headers).status_code == 200
    revoked = api.delete(f"/v1/api-keys/{tenant_a.key_id}", headers=staff)
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    assert api.get(f"/v1/clients/{tenant_a.id}", headers=tenant_a.headers).status_code == 401


def test_the_last_active_staff_key_cannot_be_revoked_through_the_api(
    api: TestClient, staff: dict
) -> None:
    """A key may revoke itself, but not lock SCR out: `dpa keys create` is the way back."""
    me = api.get("/v1/me", headers=staff).json()["key_id"]
    alone = api.delete(f"/v1/api-keys/{me}", headers=staff)
    assert alone.status_code == 409
    assert alone.headers["content-type"] == "application/problem+json"
    assert alone.json()["rule"] == "last-active-staff-key"
    assert api.get("/v1/me", headers=staff).status_code == 200  # still works
    context = api.app.state.context  # type: ignore[attr-defined]
    with Session(context.engine) as session:  # staff keys are made at the console
        _key, plain = auth_service.create_key(
            session, context.clock, context.settings.key_hash_secret, role=Role.staff
        )
        session.commit()
    other = bearer(plain)
    assert api.delete(f"/v1/api-keys/{me}", headers=other).status_code == 200
    assert api.get("/v1/me", headers=staff).status_code == 401


def test_a_client_revokes_its_own_keys_but_not_another_clients(
    api: TestClient, staff: dict, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    spare = api.post(f"/v1/clients/{tenant_a.id}/api-keys", json={}, headers=staff).json()
    assert (
        api.delete(f"/v1/api-keys/{tenant_b.key_id}", headers=tenant_a.headers).status_code == 404
    )
    assert api.get("/v1/me", headers=tenant_b.headers).status_code == 200
    assert api.delete(f"/v1/api-keys/{spare['id']}", headers=tenant_a.headers).status_code == 200
    assert api.get("/v1/me", headers=bearer(spare["key"])).status_code == 401


def test_last_used_at_follows_use_to_the_minute(
    api: TestClient, staff: dict, clock: MovableClock
) -> None:
    tenant = make_tenant(api, staff, "Delta")

    def last_used() -> str | None:
        keys = api.get(f"/v1/clients/{tenant.id}/api-keys", headers=staff).json()["items"]
        return next(k["last_used_at"] for k in keys if k["id"] == tenant.key_id)

    assert last_used() is None
    api.get("/v1/me", headers=tenant.headers)
    first = last_used()
    assert first is not None
    clock.advance(timedelta(seconds=20))
    api.get("/v1/me", headers=tenant.headers)
    assert last_used() == first  # within the minute: no write
    clock.advance(timedelta(minutes=2))
    api.get("/v1/me", headers=tenant.headers)
    assert last_used() > first


def _dpa(args: list[str], database_url: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DPA_DATABASE_URL": database_url,
        "DPA_SECRET_KEY": SECRET,
        "DPA_VAR_DIR": str(tmp_path / "var"),
    }
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        cwd=tmp_path,
    )


def test_cli_keys_create_prints_only_the_key(api: TestClient, settings, tmp_path: Path) -> None:
    result = _dpa(["keys", "create", "--role", "staff"], settings.database_url, tmp_path)
    assert result.returncode == 0, result.stderr
    assert KEY_SHAPE.match(result.stdout.rstrip("\n")), repr(result.stdout)
    assert result.stdout.count("\n") == 1
    assert "shown once" in result.stderr
    key = result.stdout.strip()
    me = api.get("/v1/me", headers=bearer(key))
    assert me.status_code == 200
    assert me.json()["role"] == "staff"

    revoked = _dpa(["keys", "revoke", me.json()["key_id"]], settings.database_url, tmp_path)
    assert revoked.returncode == 0, revoked.stderr
    assert api.get("/v1/me", headers=bearer(key)).status_code == 401


def test_cli_client_key_needs_an_existing_client(settings, tmp_path: Path) -> None:
    missing = _dpa(["keys", "create", "--role", "client"], settings.database_url, tmp_path)
    assert missing.returncode == 2
    assert missing.stdout == ""
    unknown = _dpa(
        ["keys", "create", "--role", "client", "--client-id", "cli_nope"],
        settings.database_url,
        tmp_path,
    )
    assert unknown.returncode == 1
    assert "cli_nope" in unknown.stderr


def test_cli_clients_create(api: TestClient, staff: dict, settings, tmp_path: Path) -> None:
    result = _dpa(
        [
            "clients",
            "create",
            "--name",
            "Epsilon",
            "--legal-name",
            "Epsilon SA",
            "--calendar",
            "FR-57",
        ],
        settings.database_url,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert '"calendar":"FR-57"' in result.stdout
    names = [c["name"] for c in api.get("/v1/clients", headers=staff).json()["items"]]
    assert names == ["Epsilon"]
    bad = _dpa(
        ["clients", "create", "--name", "X", "--legal-name", "X", "--timezone", "Nowhere/City"],
        settings.database_url,
        tmp_path,
    )
    assert bad.returncode == 2
    assert "timezone" in bad.stderr


def test_failed_authentications_are_throttled_per_address(
    app: FastAPI, api: TestClient, staff: dict
) -> None:
    """SPEC §13: after DPA_AUTH_FAILURE_LIMIT failures (20) in a minute, that address gets 429
    with Retry-After, before any key is checked; another address is unaffected."""
    attacker = TestClient(app, client=("203.0.113.7", 40000), raise_server_exceptions=False)
    answers = [attacker.get("/v1/clients", headers=bearer("dpa_" + f"{n:043d}")) for n in range(50)]
    statuses = [a.status_code for a in answers]
    assert statuses[:20] == [401] * 20
    assert set(statuses[20:]) == {429}
    throttled = answers[-1]
    assert throttled.headers["content-type"] == "application/problem+json"
    assert 1 <= int(throttled.headers["retry-after"]) <= 60
    # Even a good key from that address waits; from another address it works at once.
    assert attacker.get("/v1/clients", headers=staff).status_code == 429
    assert api.get("/v1/clients", headers=staff).status_code == 200


def test_revocation_elsewhere_fails_the_very_next_read(
    api: TestClient, staff: dict, settings, clock: MovableClock, tmp_path: Path
) -> None:
    """The authenticated read resolves the key and the client in one statement, every request:
    a key revoked by another process (`dpa keys revoke`) or by another server on the same
    database is refused at once, however warm the reading process is (SPEC §13)."""
    tenant = make_tenant(api, staff, "Revoked elsewhere")
    spare = api.post(f"/v1/clients/{tenant.id}/api-keys", json={}, headers=staff).json()
    for key in (tenant.headers, bearer(spare["key"])):
        for _ in range(20):
            assert api.get(f"/v1/clients/{tenant.id}", headers=key).status_code == 200

    revoked = _dpa(["keys", "revoke", tenant.key_id], settings.database_url, tmp_path)
    assert revoked.returncode == 0, revoked.stderr
    refused = api.get(f"/v1/clients/{tenant.id}", headers=tenant.headers)
    assert refused.status_code == 401
    assert tenant.key_id in refused.json()["detail"]

    # Another server process on the same database (its own engine and pool) revokes the spare.
    with TestClient(create_app(settings, clock, bootstrap=False)) as other:
        gone = other.delete(f"/v1/api-keys/{spare['id']}", headers=staff)
        assert gone.status_code == 200
    assert api.get(f"/v1/clients/{tenant.id}", headers=bearer(spare["key"])).status_code == 401


def test_the_key_read_leaves_requests_their_transactions(
    app: FastAPI, api: TestClient, tenant_a: Tenant
) -> None:
    """On PostgreSQL the key is read in autocommit (one round trip): the connections it
    borrowed go back to the pool in a transaction again, and what the same session writes
    next is still all or nothing."""
    engine = app.state.context.engine
    for _ in range(5):
        assert api.get(f"/v1/clients/{tenant_a.id}", headers=tenant_a.headers).status_code == 200
    borrowed = [engine.raw_connection() for _ in range(engine.pool.checkedin())]
    try:
        if engine.dialect.name == "postgresql":
            assert borrowed and not any(c.driver_connection.autocommit for c in borrowed)
    finally:
        for connection in borrowed:
            connection.close()

    async def read_then_write_then_fail() -> None:
        with Session(engine) as session:
            await short_read(session, lambda s: s.execute(text("SELECT 1")).scalar_one())
            session.add(BootstrapMarker(name="written-then-rolled-back", done_at=app_now(app)))
            session.flush()
            session.rollback()

    asyncio.run(read_then_write_then_fail())
    with Session(engine) as session:
        assert session.get(BootstrapMarker, "written-then-rolled-back") is None


def app_now(app: FastAPI) -> datetime:
    now: datetime = app.state.context.clock.now()
    return now
