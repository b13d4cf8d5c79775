"""Fixtures: a migrated database per test (SQLite file, and PostgreSQL from a throwaway cluster),
the real app with a movable clock, and tenants with their keys."""

from __future__ import annotations

import itertools
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_string
from email import policy as email_policy
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import create_engine, text
from sqlmodel import Session

from app import migrate
from app.auth import service as auth_service
from app.auth.schemas import Role
from app.clock import MovableClock
from app.errors import DATABASE_RETRY_SECONDS
from app.main import create_app
from app.settings import Settings
from tests.pg import Cluster, PostgresUnavailable, free_port
from tests.receiver import Receiver

SECRET = "test-secret-key"
SKIP_POSTGRES = os.environ.get("DPA_TEST_SKIP_POSTGRES") == "1"
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NOTICE_LINK = re.compile(r"https?://\S+/notices/[A-Za-z0-9_-]+")
_counter = itertools.count()


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[Cluster]:
    cluster = Cluster()
    try:
        cluster.start()
    except PostgresUnavailable as exc:
        cluster.stop()
        pytest.fail(
            "PostgreSQL could not start, so the PostgreSQL half of the suite cannot run "
            f"(set DPA_TEST_SKIP_POSTGRES=1 to opt out explicitly):\n{exc}",
            pytrace=False,
        )
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def postgres_template(postgres_cluster: Cluster) -> str:
    """A database migrated to head once; each test gets a copy (CREATE DATABASE … TEMPLATE)."""
    postgres_cluster.migrated_database("dpa_template")
    return "dpa_template"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    migrate.upgrade(f"sqlite:///{path}")
    return path


def _fresh_postgres(cluster: Cluster, template: str) -> Iterator[str]:
    name = f"dpa_test_{os.getpid()}_{next(_counter)}"
    admin = create_engine(cluster.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE {template}'))
    try:
        yield cluster.url(name)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database at head, on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "dpa.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    if SKIP_POSTGRES:
        pytest.skip("DPA_TEST_SKIP_POSTGRES=1")
    cluster = request.getfixturevalue("postgres_cluster")
    template = request.getfixturevalue("postgres_template")
    yield from _fresh_postgres(cluster, template)


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    """A fresh SQLite database at head (for tests that run subprocesses on a file)."""
    path = tmp_path / "dpa.sqlite3"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock(START)


def make_settings(database_url: str, var_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": database_url,
        "worker_enabled": False,
        "secret_key": SECRET,
        "var_dir": var_dir,
        "webhook_allow_private": True,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path / "var")


@pytest.fixture
def app(settings: Settings, clock: MovableClock) -> FastAPI:
    return create_app(settings, clock, bootstrap=False)


@pytest.fixture
def api(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client
        # Every request gave its connection back (a replayed answer once kept one until the
        # garbage collector came by): checked before the lifespan disposes of the pool.
        assert app.state.context.engine.pool.checkedout() == 0, "a request kept a connection"


@pytest.fixture
def session(app: FastAPI) -> Iterator[Session]:
    """A session on the app's database, to read rows the API does not show."""
    with Session(app.state.context.engine) as db_session:
        yield db_session


def assert_database_unavailable(answer: Response) -> None:
    """The answer to a request made while the database cannot be used."""
    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["retry-after"] == str(DATABASE_RETRY_SECONDS)
    problem = answer.json()
    assert problem["type"] == "urn:dpa-service:problem:database-unavailable"
    assert problem["title"] == "Database unavailable"
    assert "Idempotency-Key" in problem["detail"]
    assert problem["request_id"]


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def staff(app: FastAPI) -> dict[str, str]:
    """Authorization headers of a staff key."""
    return staff_headers(app)


def staff_headers(app: FastAPI) -> dict[str, str]:
    """A new staff key in the app's database, as Authorization headers (for tests that build
    their own app rather than use the `app` fixture)."""
    context = app.state.context
    with Session(context.engine) as db_session:
        _key, plain = auth_service.create_key(
            db_session, context.clock, context.settings.key_hash_secret, role=Role.staff
        )
        db_session.commit()
    return bearer(plain)


@dataclass
class Tenant:
    """A client with its own key, as a client system would hold it."""

    id: str
    name: str
    headers: dict[str, str]
    key_id: str
    objects: dict[str, str] = field(default_factory=dict)


def make_tenant(api: TestClient, staff: dict[str, str], name: str) -> Tenant:
    response = api.post(
        "/v1/clients",
        json={"name": name, "legal_name": f"{name} SAS", "country": "FR", "calendar": "FR"},
        headers=staff,
    )
    assert response.status_code == 201, response.text
    client_id = response.json()["id"]
    response = api.post(f"/v1/clients/{client_id}/api-keys", json={"name": "tests"}, headers=staff)
    assert response.status_code == 201, response.text
    return Tenant(client_id, name, bearer(response.json()["key"]), response.json()["id"])


@pytest.fixture
def tenant_a(api: TestClient, staff: dict[str, str]) -> Tenant:
    return make_tenant(api, staff, "Alpha Boulangerie")


@pytest.fixture
def tenant_b(api: TestClient, staff: dict[str, str]) -> Tenant:
    return make_tenant(api, staff, "Beta Imprimerie")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def live_app(settings: Settings, clock: MovableClock) -> Iterator[FastAPI]:
    """The app with its worker running (pump, timers), on the movable clock."""
    app = create_app(settings.model_copy(update={"worker_enabled": True}), clock, bootstrap=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        app.state.client = client
        yield app


@pytest.fixture
def live(live_app: FastAPI) -> TestClient:
    return live_app.state.client


def settle(app: FastAPI) -> None:
    """Let the worker process everything due at the clock's now, and record it."""
    app.state.context.worker.settle()


@dataclass
class Mailbox:
    """A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps what it receives."""

    host: str
    port: int
    messages: list[dict[str, Any]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(
            {
                "to": list(envelope.rcpt_tos),
                "from": envelope.mail_from,
                "content": envelope.content.decode("utf-8", "replace"),
            }
        )
        return "250 OK"

    def texts(self) -> list[str]:
        """Each message's text as its reader sees it (transfer encodings undone)."""
        return [
            message_from_string(m["content"], policy=email_policy.default)
            .get_body(preferencelist=("plain",))
            .get_content()
            for m in self.messages
        ]

    def links(self) -> list[str]:
        """The notice links the messages carry, in order."""
        return [link for text in self.texts() for link in NOTICE_LINK.findall(text)]


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    from aiosmtpd.controller import Controller

    box = Mailbox("127.0.0.1", free_port())
    controller = Controller(box, hostname=box.host, port=box.port)
    controller.start()
    yield box
    controller.stop()


@pytest.fixture
def mailing_app(settings: Settings, clock: MovableClock, mailbox: Mailbox) -> Iterator[FastAPI]:
    """The app with its worker, sending its e-mail fallback to a real SMTP server on loopback."""
    mailing = settings.model_copy(
        update={
            "worker_enabled": True,
            "smtp_host": mailbox.host,
            "smtp_port": mailbox.port,
            "smtp_from": "dpa@scr.example",
        }
    )
    app = create_app(mailing, clock, bootstrap=False)
    with TestClient(app) as client:
        app.state.client = client
        yield app
