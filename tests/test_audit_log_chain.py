"""SPEC §10, the audit log's hash chain: altering or deleting any entry is reported at that
entry, by the API and by `dpa audit-log verify`; API processes writing at once on PostgreSQL
leave one unbroken chain."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, func, select, update

from app.auditlog.models import AuditLogEntry, AuditLogHead
from tests.conftest import SECRET, Tenant
from tests.server import Server, dpa


def contact_body(n: int) -> dict:
    return {
        "role": "security",
        "name": f"Analyst {n}",
        "email": f"analyst{n}@example.com",
        "communicated_at": "2026-01-01T00:00:00Z",
    }


def verify_cli(url: str, cwd: Path) -> tuple[int, dict]:
    env = {"DPA_DATABASE_URL": url, "DPA_SECRET_KEY": SECRET}
    run = dpa("audit-log", "verify", cwd=cwd, env=env)
    return run.returncode, json.loads(run.stdout)


def stored(engine: Engine) -> tuple[int, str]:
    with engine.connect() as connection:
        total = connection.scalar(select(func.count()).select_from(AuditLogEntry)) or 0
        head = connection.scalar(select(AuditLogHead.hash)) or ""
    return total, head


def test_an_altered_or_deleted_entry_is_reported(
    app: FastAPI, api: TestClient, staff: dict, tenant_a: Tenant, tmp_path: Path
) -> None:
    for n in range(5):
        api.post(f"/v1/clients/{tenant_a.id}/contacts", json=contact_body(n), headers=staff)
    engine = app.state.context.engine
    url = app.state.context.settings.database_url
    total, head = stored(engine)
    intact = api.get("/v1/audit-log/verify", headers=staff).json()
    assert intact["intact"] and intact["entries"] == total >= 7 and intact["head_hash"] == head
    code, report = verify_cli(url, tmp_path)
    assert code == 0 and report["intact"] and report["head_hash"] == head
    assert api.get("/v1/audit-log/verify", headers=tenant_a.headers).status_code == 403

    table = AuditLogEntry.__table__  # type: ignore[attr-defined]
    with engine.begin() as connection:
        original = connection.execute(select(table.c.summary).where(table.c.seq == 4)).scalar()
        connection.execute(update(table).where(table.c.seq == 4).values(summary={"fields": []}))
    altered = api.get("/v1/audit-log/verify", headers=staff).json()
    assert (altered["intact"], altered["broken_seq"], altered["entries"]) == (False, 4, 3)
    assert "altered" in altered["reason"]
    code, report = verify_cli(url, tmp_path)
    assert code == 1 and report["broken_seq"] == 4

    with engine.begin() as connection:  # put it back: intact again
        connection.execute(update(table).where(table.c.seq == 4).values(summary=original))
    assert api.get("/v1/audit-log/verify", headers=staff).json()["intact"]

    with engine.begin() as connection:
        connection.execute(delete(table).where(table.c.seq == 6))
    deleted = api.get("/v1/audit-log/verify", headers=staff).json()
    assert (deleted["intact"], deleted["broken_seq"]) == (False, 6)
    assert "missing" in deleted["reason"]


def test_a_truncated_tail_is_reported(
    app: FastAPI, api: TestClient, staff: dict, tenant_a: Tenant
) -> None:
    """Deleting the newest entries leaves a chain that verifies up to them: the head row,
    advanced with every append, says how many there were."""
    for n in range(3):
        api.post(f"/v1/clients/{tenant_a.id}/contacts", json=contact_body(n), headers=staff)
    total, _head = stored(app.state.context.engine)
    table = AuditLogEntry.__table__  # type: ignore[attr-defined]
    with app.state.context.engine.begin() as connection:
        connection.execute(delete(table).where(table.c.seq == total))
    report = api.get("/v1/audit-log/verify", headers=staff).json()
    assert (report["intact"], report["broken_seq"], report["entries"]) == (False, total, total - 1)


WRITES_PER_PROCESS = 150


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_two_api_processes_writing_at_once_leave_one_chain(
    database_url: str, tmp_path: Path
) -> None:
    env = {
        "DPA_DATABASE_URL": database_url,
        "DPA_SECRET_KEY": SECRET,
        "DPA_WORKER_ENABLED": "false",
        "DPA_VAR_DIR": str(tmp_path / "var"),
    }
    made = dpa("keys", "create", "--role", "staff", cwd=tmp_path, env=env)
    assert made.returncode == 0, made.stderr
    staff = {"Authorization": f"Bearer {made.stdout.strip()}"}
    servers = [Server(tmp_path, env), Server(tmp_path, env)]
    try:
        for server in servers:
            server.wait_ready()
        client = httpx.post(
            f"{servers[0].url}/v1/clients",
            json={"name": "Alpha", "legal_name": "Alpha SAS", "country": "FR"},
            headers=staff,
            timeout=30,
        )
        assert client.status_code == 201, client.text
        contacts = f"/v1/clients/{client.json()['id']}/contacts"

        def write(n: int) -> tuple[int, str]:
            server = servers[n % 2]
            answer = httpx.post(
                server.url + contacts, json=contact_body(n), headers=staff, timeout=60
            )
            return answer.status_code, answer.headers.get("x-request-id", "")

        with ThreadPoolExecutor(max_workers=16) as pool:
            results = list(pool.map(write, range(2 * WRITES_PER_PROCESS)))
    finally:
        for server in servers:
            if server.process.poll() is None:
                server.stop()
    assert [status for status, _ in results] == [201] * (2 * WRITES_PER_PROCESS)
    code, report = verify_cli(database_url, tmp_path)
    # The operator's key, the client, and every contact: one chain without a gap or a fork.
    assert code == 0, report
    assert report["intact"] and report["entries"] == 2 + 2 * WRITES_PER_PROCESS
