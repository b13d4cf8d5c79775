"""`dpa serve` has FastAPI build every route's models before the first request: the first call
after a start (a breach notice, maybe) must not pay for the whole API's set-up."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import TypeAdapter

from app.main import _service_routes, create_app, prepare_routes
from tests.conftest import make_settings


def _models_built_by_first_requests(
    sqlite_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    prepared: bool,
    new_process: bool = True,
) -> list[Any]:
    if new_process:
        # The routes as a new process has them: apps made in one process share them
        # (app.main._service_routes), and earlier tests' requests may have built them.
        _service_routes.cache_clear()
    app = create_app(make_settings(sqlite_url, tmp_path / "var"), bootstrap=False)
    if prepared:
        prepare_routes(app)
    built: list[Any] = []
    original = TypeAdapter.__init__

    def counting(self: TypeAdapter[Any], *args: Any, **kwargs: Any) -> None:
        built.append(args[0] if args else kwargs.get("type"))
        original(self, *args, **kwargs)

    monkeypatch.setattr(TypeAdapter, "__init__", counting)
    with TestClient(app, raise_server_exceptions=False) as client:
        # Routes of routers at both ends of the list: each router builds on its first match.
        for path in ("/v1/clients", "/v1/breaches", "/v1/record", "/notices/x"):
            client.get(path)
    return built


def test_prepared_routes_build_nothing_at_the_first_requests(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _models_built_by_first_requests(sqlite_url, tmp_path, monkeypatch, prepared=True) == []


def test_unprepared_routes_build_their_models_at_the_first_request(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What prepare_routes saves (and the proof the test above can see it)."""
    assert _models_built_by_first_requests(sqlite_url, tmp_path, monkeypatch, prepared=False)


def test_a_later_app_in_the_process_builds_nothing_at_its_first_requests(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Apps made in one process share the service's routes: what the first app's requests
    built, a later app (the next test's) does not build again."""
    first = _models_built_by_first_requests(sqlite_url, tmp_path, monkeypatch, prepared=False)
    assert first
    monkeypatch.undo()
    later = _models_built_by_first_requests(
        sqlite_url, tmp_path / "later", monkeypatch, prepared=False, new_process=False
    )
    assert later == []
