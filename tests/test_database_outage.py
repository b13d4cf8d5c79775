"""A database the service cannot use is answered 503 `database-unavailable` with Retry-After,
not 500: a client system can tell an outage from a bug and knows when to come back. Nothing of
a write attempted meanwhile is kept, and the service recovers without a restart. (PostgreSQL
stopped under a serving app: tests/test_loop_reads.py, the outage test.)"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from app.clock import MovableClock
from app.main import create_app
from tests.conftest import START, assert_database_unavailable, make_settings, staff_headers

NEW_CLIENT = {"name": "Gamma", "legal_name": "Gamma SAS", "country": "FR"}


def test_a_sqlite_file_that_cannot_be_opened_is_answered_503_and_nothing_is_kept(
    sqlite_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = Path(make_url(sqlite_url).database or "")
    app = create_app(make_settings(sqlite_url, tmp_path / "var"), MovableClock(START))
    with TestClient(app, raise_server_exceptions=False) as api:
        context = app.state.context
        staff = staff_headers(app)
        before = api.get("/v1/clients", headers=staff)
        assert before.status_code == 200

        # The file goes away and a directory takes its place (a volume gone, a path
        # replaced): every new connection fails to open it.
        context.engine.dispose()
        away = path.with_name(path.name + ".away")
        path.rename(away)
        path.mkdir()
        with caplog.at_level(logging.ERROR, logger="dpa.errors"):
            assert_database_unavailable(api.post("/v1/clients", headers=staff, json=NEW_CLIENT))
            assert_database_unavailable(api.get("/v1/clients", headers=staff))
        logged = [r.getMessage() for r in caplog.records if r.name == "dpa.errors"]
        assert logged and all("the database could not be used" in line for line in logged)
        assert all(r.exc_info is None for r in caplog.records if r.name == "dpa.errors")

        # Back: the same process answers again, and the write refused meanwhile is not there.
        path.rmdir()
        away.rename(path)
        after = api.get("/v1/clients", headers=staff)
        assert after.status_code == 200
        assert after.json() == before.json()
