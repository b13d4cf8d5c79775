"""What `make run` does, as a user would see it: `dpa migrate` then `dpa serve` on a fresh
directory with the default settings, the staff key line on the first start only."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.pg import free_port
from tests.server import KEY_LINE, clean_env, dpa, serving

pytestmark = pytest.mark.slow


def test_first_start_prints_one_staff_key_and_serves_swagger(tmp_path: Path) -> None:
    migrated = dpa("migrate", cwd=tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    assert (tmp_path / "var" / "dpa.sqlite3").exists()

    with serving(tmp_path) as server:
        key_lines = [line for line in server.output if line.startswith(KEY_LINE)]
        assert len(key_lines) == 1, "".join(server.output)
        key = key_lines[0][len(KEY_LINE) :].strip()
        me = httpx.get(f"{server.url}/v1/me", headers={"Authorization": f"Bearer {key}"})
        assert me.status_code == 200
        assert me.json()["role"] == "staff"
        docs = httpx.get(f"{server.url}/docs")
        assert docs.status_code == 200
        assert "swagger-ui" in docs.text
        assert httpx.get(f"{server.url}/openapi.json").json()["info"]["title"] == "dpa-service"
        # The service's state is its own (SPEC §13): var/ 0700, the database and secret 0600.
        var = tmp_path / "var"
        assert var.stat().st_mode & 0o777 == 0o700
        for private in var.iterdir():
            assert private.stat().st_mode & 0o077 == 0, private.name

    with serving(tmp_path) as server:
        pass
    assert not any(KEY_LINE in line for line in server.output), "".join(server.output)
    # The key from the first start still works after the restart (same stored secret).
    with serving(tmp_path) as server:
        me = httpx.get(f"{server.url}/v1/me", headers={"Authorization": f"Bearer {key}"})
        assert me.status_code == 200


def test_serve_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    result = dpa("serve", "--port", str(free_port()), cwd=tmp_path)
    assert result.returncode == 1
    assert "dpa migrate" in result.stderr


def test_worker_runs_until_sigterm(tmp_path: Path) -> None:
    assert dpa("migrate", cwd=tmp_path).returncode == 0
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "worker"],
        cwd=tmp_path,
        env=clean_env(),
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    deadline = time.monotonic() + 30
    seen = ""
    while "worker running" not in seen and time.monotonic() < deadline:
        seen += process.stderr.readline()
    assert "worker running" in seen
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0


def test_the_access_log_never_writes_a_token_from_a_path(tmp_path: Path) -> None:
    """A calendar feed's URL and a notice page's link carry their credential in the path;
    uvicorn's access log writes every path it serves (SPEC §13: secrets never in logs)."""
    assert dpa("migrate", cwd=tmp_path).returncode == 0
    with serving(tmp_path) as server:
        key = next(line for line in server.output if line.startswith(KEY_LINE))
        staff = {"Authorization": f"Bearer {key[len(KEY_LINE) :].strip()}"}
        client = httpx.post(
            f"{server.url}/v1/clients",
            headers=staff,
            json={"name": "Alpha", "legal_name": "Alpha SA", "country": "FR"},
        ).json()
        feed = httpx.post(
            f"{server.url}/v1/clients/{client['id']}/calendar-feeds", headers=staff, json={}
        ).json()
        token = feed["url"].rsplit("/", 1)[1].removesuffix(".ics")
        assert httpx.get(f"{server.url}/v1/calendar-feeds/{token}.ics").status_code == 200
        page_token = "notice-page-token-" + token[-12:]
        assert httpx.get(f"{server.url}/notices/{page_token}?lang=fr").status_code == 404
        listed = f"/v1/clients/{client['id']}/calendar-feeds"
        assert httpx.get(f"{server.url}{listed}", headers=staff).status_code == 200
    logged = "".join(server.output)
    assert '"GET /v1/calendar-feeds/<redacted> HTTP/1.1" 200' in logged, logged
    assert '"GET /notices/<redacted>?lang=fr HTTP/1.1" 404' in logged, logged
    assert token not in logged and page_token not in logged
    assert f'"GET {listed} HTTP/1.1" 200' in logged  # other paths are logged as they were
