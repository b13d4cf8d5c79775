"""SPEC §13, no secret readable from the database alone: after a client key, a webhook endpoint
and a secret rotation are made with Idempotency-Key (whose stored answers carry them), no column
of any table, on SQLite and PostgreSQL, holds the key, either secret, or their first characters."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import column as col
from sqlalchemy import inspect, select
from sqlalchemy import table as tbl
from sqlalchemy.engine import Engine

from tests.conftest import Tenant


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


def test_no_secret_is_readable_from_the_database(
    app: FastAPI, api: TestClient, staff: dict, tenant_a: Tenant
) -> None:
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
