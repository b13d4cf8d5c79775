"""SPEC §13, no secret readable from the database alone: after a client key, a webhook endpoint
and a secret rotation are made with Idempotency-Key (whose stored answers carry them), no column
of any table, on SQLite and PostgreSQL, holds the key, either secret, or their first characters."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import String, event, inspect, type_coerce, update
from sqlalchemy import column as col
from sqlalchemy import table as tbl
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, select

from app import crypto
from app.events.models import WebhookEndpoint
from app.main import create_app
from tests.conftest import SECRET, Tenant, make_settings
from tests.server import dpa


def every_stored_value(engine: Engine) -> list[tuple[str, str, str]]:
    """(table, column, value as text) for every non-null value in the database."""
    found = []
    inspector = inspect(engine)
    with engine.connect() as connection:
        for table in inspector.get_table_names():
            columns = [c["name"] for c in inspector.get_columns(table)]
            rows = connection.execute(select(*[col(c) for c in columns]).select_from(tbl(table)))
            for row in rows:
                for name, value in zip(columns, row, strict=True):
                    if value is None:
                        continue
                    text = (
                        bytes(value).decode("latin-1")
                        if isinstance(value, (bytes, memoryview))
                        else str(value)
                    )
                    found.append((table, name, text))
    return found


def make_secrets(api: TestClient, staff: dict, tenant: Tenant) -> list[str]:
    """A client key, an endpoint and its rotated secret, each made with Idempotency-Key: the
    stored answers carry all three. Returns [key, first secret, rotated secret]."""
    tenant_a = tenant
    key = api.post(
        f"/v1/clients/{tenant_a.id}/api-keys",
        json={"name": "scan"},
        headers={**staff, "Idempotency-Key": "scan-key"},
    )
    assert key.status_code == 201, key.text
    endpoint = api.post(
        "/v1/webhook-endpoints",
        json={"url": "http://127.0.0.1:9/hook"},
        headers={**tenant_a.headers, "Idempotency-Key": "scan-endpoint"},
    )
    assert endpoint.status_code == 201, endpoint.text
    rotated = api.post(
        f"/v1/webhook-endpoints/{endpoint.json()['id']}/rotate-secret",
        headers={**tenant_a.headers, "Idempotency-Key": "scan-rotate"},
    )
    assert rotated.status_code == 200, rotated.text
    secrets = [key.json()["key"], endpoint.json()["secret"], rotated.json()["secret"]]
    assert secrets[1] != secrets[2]
    return secrets


def test_no_secret_is_readable_from_the_database(
    app: FastAPI, api: TestClient, staff: dict, tenant_a: Tenant
) -> None:
    secrets = make_secrets(api, staff, tenant_a)
    # The replays still answer the secrets (opened from their sealed records).
    replay = api.post(
        f"/v1/clients/{tenant_a.id}/api-keys",
        json={"name": "scan"},
        headers={**staff, "Idempotency-Key": "scan-key"},
    )
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json()["key"] == secrets[0]

    needles = {s: s[:12] for s in secrets}  # "dpa_" or "whsec_" and the first secret characters
    stored = every_stored_value(app.state.context.engine)
    assert len(stored) > 50  # the scan sees the database
    leaks = [
        (table, column)
        for table, column, text in stored
        for secret, prefix in needles.items()
        if secret in text or prefix in text
    ]
    assert leaks == []


def stored_sealed(engine: Engine) -> list[tuple[str, str | bytes, crypto.Sealed]]:
    """(table.column, stored form, column type) of every sealed value, as the database has it."""
    found = []
    with engine.connect() as connection:
        for table, column, sealed in crypto.sealed_columns(SQLModel.metadata):
            stored = type_coerce(column, sealed.impl_instance)
            for (value,) in connection.execute(select(stored).where(column.is_not(None))):
                found.append((f"{table.name}.{column.name}", value, sealed))
    return found


def test_rotate_key_reseals_every_secret_under_the_new_key(
    app: FastAPI, api: TestClient, staff: dict, tenant_a: Tenant, tmp_path: Path
) -> None:
    """`dpa secrets rotate-key` after a new key is put first in DPA_SEALING_KEYS: every sealed
    value (and one still in clear from before sealing) moves to the new key, opens with the new
    key alone, and the service answers the same secrets; a second run finds nothing to do."""
    secrets = make_secrets(api, staff, tenant_a)
    engine = app.state.context.engine
    endpoints = SQLModel.metadata.tables["webhook_endpoints"]
    with engine.begin() as connection:  # a value written before sealing existed
        connection.execute(
            update(endpoints).values(previous_secret=type_coerce("whsec_clear", String))
        )
    old_id = crypto.key_id_of(SECRET.encode())
    assert {crypto_key(value, sealed) for _, value, sealed in stored_sealed(engine)} == {
        old_id,
        None,
    }

    new_key = dpa("secrets", "new-key", cwd=tmp_path).stdout.strip()
    assert len(new_key) >= 32
    new_id = crypto.key_id_of(new_key.encode())
    env = {
        "DPA_DATABASE_URL": app.state.context.settings.database_url,
        "DPA_SECRET_KEY": SECRET,
        "DPA_SEALING_KEYS": new_key,
    }
    run = dpa("secrets", "rotate-key", cwd=tmp_path, env=env)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["key_id"] == new_id
    columns = {column["column"]: column for column in report["columns"]}
    assert set(columns) == {
        "webhook_endpoints.secret",
        "webhook_endpoints.previous_secret",
        "idempotency_records.response_body",
    }
    assert columns["webhook_endpoints.secret"]["from_keys"] == {old_id: 1}
    assert columns["webhook_endpoints.previous_secret"]["from_keys"] == {"clear": 1}
    assert columns["idempotency_records.response_body"]["from_keys"] == {old_id: 3}
    assert "3 resealed (3 from " + old_id in run.stderr

    only_new = crypto.SecretBox([new_key.encode()])
    stored = stored_sealed(engine)
    assert len(stored) == 5
    for name, value, sealed in stored:
        assert crypto_key(value, sealed) == new_id, name
        raw = value.encode() if isinstance(value, str) else bytes(value)
        prefix = crypto.TEXT_PREFIX.encode() if isinstance(value, str) else crypto.BYTES_PREFIX
        body = raw[len(prefix) :]
        sealed_value = base64.urlsafe_b64decode(body) if isinstance(value, str) else body
        only_new.open(sealed_value, sealed.purpose)  # the old key is no longer needed

    again = dpa("secrets", "rotate-key", cwd=tmp_path, env=env)
    assert again.returncode == 0, again.stderr
    assert [c["resealed"] for c in json.loads(again.stdout)["columns"]] == [0, 0, 0]
    assert sum(c["current"] for c in json.loads(again.stdout)["columns"]) == 5

    # The service on the new ring answers the same secrets.
    restarted = create_app(
        make_settings(
            app.state.context.settings.database_url, tmp_path / "var", sealing_keys=new_key
        ),
        bootstrap=False,
    )
    with TestClient(restarted) as client:
        replay = client.post(
            f"/v1/clients/{tenant_a.id}/api-keys",
            json={"name": "scan"},
            headers={**staff, "Idempotency-Key": "scan-key"},
        )
        assert replay.json()["key"] == secrets[0]
        with Session(engine) as session:
            endpoint = session.exec(select(WebhookEndpoint)).one()
            assert (endpoint.secret, endpoint.previous_secret) == (secrets[2], "whsec_clear")


def test_a_secret_rotated_while_resealing_is_kept(
    app: FastAPI, api: TestClient, tenant_a: Tenant, staff: dict
) -> None:
    """Re-sealing compares and sets: an endpoint whose secret the API rotates between the read
    and the write keeps the new secret; the stale one is not written back."""
    make_secrets(api, staff, tenant_a)
    engine = app.state.context.engine
    new_key = "k" * 40
    crypto.configure([new_key.encode(), SECRET.encode()])
    endpoint_id = api.get("/v1/webhook-endpoints", headers=tenant_a.headers).json()["items"][0][
        "id"
    ]
    rotated: list[str] = []
    started: list[bool] = []

    def rotate_first(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        # The first re-seal write of the secret column: the API rotates that secret first (its
        # own write goes through this engine too, hence `started`).
        if statement.startswith("UPDATE webhook_endpoints SET secret") and not started:
            started.append(True)
            answer = api.post(
                f"/v1/webhook-endpoints/{endpoint_id}/rotate-secret", headers=tenant_a.headers
            )
            assert answer.status_code == 200, answer.text
            rotated.append(answer.json()["secret"])

    event.listen(engine, "before_cursor_execute", rotate_first)
    try:
        counts = {count.column: count for count in crypto.reseal(engine, SQLModel.metadata)}
    finally:
        event.remove(engine, "before_cursor_execute", rotate_first)
    assert rotated
    assert counts["webhook_endpoints.secret"].skipped == 1
    assert counts["webhook_endpoints.secret"].resealed == 0
    with Session(engine) as session:
        assert session.exec(select(WebhookEndpoint)).one().secret == rotated[0]


def crypto_key(value: str | bytes, sealed: crypto.Sealed) -> str | None:
    return sealed.key_id_of(value)  # type: ignore[arg-type]
