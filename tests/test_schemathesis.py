"""Schemathesis against the app's own OpenAPI document (SPEC §12): with a staff key and with a
client key, no 5xx and no response that breaks the schema. Examples are bounded so the suite
stays fast; `SCHEMATHESIS_EXAMPLES` raises them for a deeper run."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.cli import DEFAULT_OPENAPI
from tests.conftest import Tenant

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "10"))
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    content_type_conformance,
    status_code_conformance,
]


@pytest.fixture
def database_url(tmp_path: Path, sqlite_template: Path) -> str:
    """SQLite only here: both backends run every other API test."""
    path = tmp_path / "dpa.sqlite3"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


# The committed document is what the app serves (tests/test_openapi.py proves it).
schema = schemathesis.openapi.from_dict(json.loads(DEFAULT_OPENAPI.read_text(encoding="utf-8")))


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_as_staff(case, app: FastAPI, staff: dict) -> None:
    case.call_and_validate(app=app, headers=staff, checks=CHECKS)


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_as_a_client(case, app: FastAPI, tenant_a: Tenant) -> None:
    case.call_and_validate(app=app, headers=tenant_a.headers, checks=CHECKS)
