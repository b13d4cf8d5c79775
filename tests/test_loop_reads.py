"""The key read on the event loop's own connection (app.loopreads) and the pieces it stands on."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, event, text
from sqlmodel import Session

from app.auth.service import _key_statement
from app.clients.models import Client
from app.clock import MovableClock
from app.db import as_loaded, holds_connection
from app.loopreads import APPLICATION_NAME, LoopReads
from app.main import create_app
from tests.conftest import (
    SKIP_POSTGRES,
    START,
    Tenant,
    assert_database_unavailable,
    make_settings,
    staff_headers,
)
from tests.pg import Cluster


def _statements_on(engine: Any) -> list[str]:
    sent: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: sent.append(args[2]))
    return sent


def test_the_authenticated_read_sends_nothing_through_the_engine(
    app: FastAPI, api: TestClient, staff: dict, tenant_a: Tenant
) -> None:
    """The key and its client are read on the loop's own connection, and the same client comes
    back as the engine's own read of it (the list) shows it."""
    engine = app.state.context.engine
    listed = {c["id"]: c for c in api.get("/v1/clients", headers=staff).json()["items"]}
    sent = _statements_on(engine)
    for headers in (tenant_a.headers, staff):
        read = api.get(f"/v1/clients/{tenant_a.id}", headers=headers)
        assert read.status_code == 200, read.text
        assert read.json() == listed[tenant_a.id]
    assert [statement for statement in sent if "SELECT" in statement.upper()] == []
    # Another client's id with a client key: not found, as through the engine.
    other = api.get(f"/v1/clients/{listed[tenant_a.id]['id']}x", headers=tenant_a.headers)
    assert other.status_code == 404


def test_a_client_read_on_the_loop_changes_like_one_the_engine_loaded(
    app: FastAPI, api: TestClient, staff: dict, tenant_a: Tenant
) -> None:
    """A PATCH finds its client already read with the key (on the loop on PostgreSQL): the
    change is written and the audit log names it, as for a client the session loaded."""
    changed = api.patch(f"/v1/clients/{tenant_a.id}", json={"name": "Renamed"}, headers=staff)
    assert changed.status_code == 200, changed.text
    assert api.get(f"/v1/clients/{tenant_a.id}", headers=staff).json()["name"] == "Renamed"
    with Session(app.state.context.engine) as session:
        assert session.get(Client, tenant_a.id).name == "Renamed"  # type: ignore[union-attr]


def test_a_read_answered_from_the_loop_opens_no_session(
    app: FastAPI, api: TestClient, tenant_a: Tenant
) -> None:
    """The client read with the key waits, detached, for a session that a read never asks
    for (app.db.UnitOfWork): no session begins anything for it. (The first read has one after
    its response: the key's last use, kept to the minute.)"""
    path = f"/v1/clients/{tenant_a.id}"
    assert api.get(path, headers=tenant_a.headers).status_code == 200
    began: list[Any] = []
    listener = lambda session, transaction: began.append(transaction)  # noqa: E731
    event.listen(Session, "after_transaction_create", listener)
    try:
        read = api.get(path, headers=tenant_a.headers)
        assert read.status_code == 200, read.text
    finally:
        event.remove(Session, "after_transaction_create", listener)
    assert began == []


def test_as_loaded_is_in_the_state_the_orm_leaves_a_loaded_row(
    app: FastAPI, tenant_a: Tenant
) -> None:
    engine = app.state.context.engine
    with Session(engine) as session:
        loaded = session.get(Client, tenant_a.id)
        assert loaded is not None
        values = {column.key: getattr(loaded, column.key) for column in Client.__table__.columns}
    built = as_loaded(Client, values.items())
    assert built.__dict__.keys() == loaded.__dict__.keys()
    sent = _statements_on(engine)
    with Session(engine) as session:
        session.add(built)
        assert built in session and not session.dirty and not session.new
        session.flush()
        assert sent == []  # nothing to write: no pending change came with it
        built.name = "Changed"
        session.flush()
        assert len(sent) == 1 and sent[0].lstrip().upper().startswith("UPDATE")
        session.commit()
    with Session(engine) as session:
        assert session.get(Client, tenant_a.id).name == "Changed"  # type: ignore[union-attr]


def test_holds_connection_follows_the_database_transaction(app: FastAPI) -> None:
    with Session(app.state.context.engine) as session:
        session.add(as_loaded(Client, {"id": "cli_x", "name": "x"}.items()))
        assert session.in_transaction() and not holds_connection(session)
        session.execute(text("SELECT 1"))
        assert holds_connection(session)
        session.rollback()
        assert not holds_connection(session)


def test_loop_connections_the_server_closed_fail_no_request(
    app: FastAPI, api: TestClient, tenant_a: Tenant, database_url: str
) -> None:
    """A restart or an idle timeout closes the loop's connections from the server side: the
    next reads still answer (the pool replaces them; past two failures, the engine reads)."""
    if not database_url.startswith("postgresql"):
        pytest.skip("reads on the loop are PostgreSQL's")
    path = f"/v1/clients/{tenant_a.id}"
    for _ in range(3):
        assert api.get(path, headers=tenant_a.headers).status_code == 200
    admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            closed = connection.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name = :name"
                ),
                {"name": APPLICATION_NAME},
            ).scalar_one()
        assert closed >= 1
        for _ in range(5):
            answer = api.get(path, headers=tenant_a.headers)
            assert answer.status_code == 200, answer.text
    finally:
        admin.dispose()


def test_the_loop_keeps_no_more_idle_connections_than_its_size(database_url: str) -> None:
    """Reads beyond `size` at once (requests never make them: each reads inside its turn at the
    database) each get a connection; no more than `size` stay open after."""
    if not database_url.startswith("postgresql"):
        pytest.skip("the loop's connections are PostgreSQL's")
    engine = create_engine(database_url)
    reads = LoopReads.for_engine(engine, 2)
    assert reads is not None

    async def at_once() -> list[Any]:
        await reads.open()
        try:
            statement = _key_statement(False)
            return await asyncio.gather(
                *(reads.first(statement, {"key_hash": "x"}) for _ in range(6))
            )
        finally:
            pass

    def settles_at(most: int) -> int:
        """The loop's connections to this database, once the server has let go of those closed
        (a backend leaves pg_stat_activity a moment after its client closed the socket)."""
        deadline = time.monotonic() + 10
        while True:
            with engine.connect() as connection:
                count = int(
                    connection.execute(
                        text(
                            "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                            ":name AND datname = current_database()"
                        ),
                        {"name": APPLICATION_NAME},
                    ).scalar_one()
                )
            if count <= most or time.monotonic() > deadline:
                return count
            time.sleep(0.05)

    try:
        loop = asyncio.new_event_loop()
        assert loop.run_until_complete(at_once()) == [None] * 6
        assert 0 < settles_at(2) <= 2
        loop.run_until_complete(reads.close())
        loop.close()
        assert settles_at(0) == 0
    finally:
        engine.dispose()


def test_the_loop_connection_never_creates_the_sqlite_file(tmp_path: Path) -> None:
    """The engine creates the database file, private to the service (SPEC §13); the loop's own
    connection only opens one that exists, and without one the app reads as before."""
    path = tmp_path / "not-yet" / "dpa.sqlite3"
    settings = make_settings(f"sqlite:///{path}", tmp_path / "var")
    app = create_app(settings, MovableClock(START), bootstrap=False)
    with TestClient(app, raise_server_exceptions=False):
        assert app.state.context.loop_reads is None
    assert not path.exists()


def test_a_database_outage_is_answered_at_once_not_after_the_pools_wait(tmp_path: Path) -> None:
    """With PostgreSQL gone, a request's key read on the loop waits at most a second for a
    connection, then takes the engine's path, which answers the outage. A cluster of its own:
    this one is stopped mid-test."""
    if SKIP_POSTGRES:
        pytest.skip("DPA_TEST_SKIP_POSTGRES=1")
    cluster = Cluster()
    cluster.start()
    running = True
    try:
        url = cluster.migrated_database("outage")
        app = create_app(make_settings(url, tmp_path / "var"), MovableClock(START), bootstrap=False)
        with TestClient(app, raise_server_exceptions=False) as api:
            staff = staff_headers(app)
            assert api.get("/v1/clients", headers=staff).status_code == 200
            cluster.stop()
            running = False
            for _ in range(2):
                started = time.monotonic()
                answer = api.get("/v1/clients", headers=staff)
                assert time.monotonic() - started < 10
                assert_database_unavailable(answer)
    finally:
        if running:
            cluster.stop()
