"""openapi/openapi.json is exactly what the app serves, and every operation explains itself."""

from __future__ import annotations

import json
import re

from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from app.cli import DEFAULT_OPENAPI, render_openapi
from app.errors import PROBLEM_MEDIA_TYPE
from app.events import types
from app.main import create_app

PARAM = re.compile(r"{\w+}")
# Read with a token in the path, not an API key (calendar apps send no Authorization header).
TOKEN_CREDENTIAL = {"/v1/calendar-feeds/{token}.ics"}


def test_the_committed_file_is_what_the_app_serves(api: TestClient) -> None:
    committed = json.loads(DEFAULT_OPENAPI.read_text(encoding="utf-8"))
    served = api.get("/openapi.json").json()
    assert committed == served, "openapi/openapi.json drifted: run `make openapi` and commit it"
    assert DEFAULT_OPENAPI.read_text(encoding="utf-8") == render_openapi()


def test_every_app_made_in_a_process_documents_each_event_type_once(api: TestClient) -> None:
    """The webhooks' routes are built once per process and shared: a later app gets them all,
    each once, and serves the same document as the first."""
    first = api.app
    assert isinstance(first, FastAPI)
    later = create_app(first.state.context.settings, bootstrap=False)
    for made in (first, later):
        names = [route.path for route in made.webhooks.routes if isinstance(route, APIRoute)]
        assert sorted(names) == sorted(types.EVENT_TYPES)
    assert later.openapi() == api.get("/openapi.json").json()


def test_every_operation_has_a_summary_a_tag_and_its_errors(api: TestClient) -> None:
    spec = api.get("/openapi.json").json()
    operations = 0
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            operations += 1
            where = f"{method.upper()} {path}"
            assert operation.get("summary"), where
            assert operation.get("tags"), where
            responses = operation["responses"]
            expected = set()
            if path in TOKEN_CREDENTIAL:
                expected.add("422")
                assert not operation.get("security"), f"{where} takes no API key"
                assert "401" not in operation["responses"], where
            elif path.startswith("/v1/"):
                expected |= {"401", "422"}
                assert operation.get("security"), f"{where} does not declare its API key"
            if PARAM.search(path):
                expected.add("404")
            if method == "post":
                names = {p["name"] for p in operation.get("parameters", [])}
                assert "Idempotency-Key" in names, where
            missing = expected - set(responses)
            assert not missing, f"{where} does not document {missing}"
            for status, response in responses.items():
                if status.startswith(("4", "5")):
                    assert list(response["content"]) == [PROBLEM_MEDIA_TYPE], (where, status)
                    schema = response["content"][PROBLEM_MEDIA_TYPE]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Problem"}, (where, status)
    assert operations >= 15
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


def test_the_document_is_valid_openapi_3_1_with_readable_operation_ids() -> None:
    """A client generates its SDK from this file: the ids become its function names."""
    from openapi_spec_validator import validate

    spec = json.loads(DEFAULT_OPENAPI.read_text(encoding="utf-8"))
    assert spec["openapi"].startswith("3.1")
    validate(spec)
    ids = [op["operationId"] for item in spec["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids)) >= 90
    unreadable = [i for i in ids if not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", i)]
    assert unreadable == []
