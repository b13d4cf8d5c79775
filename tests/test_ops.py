"""/healthz, /readyz and /metrics against the real app, worker included."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from app.clock import MovableClock
from app.main import create_app
from tests.conftest import make_settings


def test_healthz(api: TestClient) -> None:
    assert api.get("/healthz").json() == {"status": "ok"}


def test_readyz_with_the_worker_running(database_url: str, tmp_path: Path, clock: MovableClock):
    app = create_app(
        make_settings(database_url, tmp_path, worker_enabled=True), clock, bootstrap=False
    )
    with TestClient(app) as api:
        response = api.get("/readyz")
        assert response.status_code == 200, response.text
        assert response.json() == {
            "status": "ready",
            "checks": {"database": "ok", "migrations": "ok", "scheduler": "ok"},
        }
    # After shutdown the worker is gone, and readiness says so.
    assert app.state.context.worker.alive() is False


def test_readyz_fails_when_migrations_are_not_at_head(tmp_path: Path, clock: MovableClock):
    url = f"sqlite:///{tmp_path / 'never-migrated.sqlite3'}"
    app = create_app(make_settings(url, tmp_path), clock, bootstrap=False)
    with TestClient(app) as api:
        response = api.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["checks"]["migrations"].startswith("not at head")
    assert "migrations" in body["detail"]


def test_readyz_fails_when_the_database_is_unreachable(tmp_path: Path, clock: MovableClock):
    url = "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2"
    app = create_app(make_settings(url, tmp_path), clock, bootstrap=False)
    with TestClient(app) as api:
        response = api.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"].startswith("unreachable")


def test_metrics_count_requests_by_route_template(api: TestClient, staff: dict) -> None:
    api.get("/v1/clients", headers=staff)
    api.get("/v1/clients/cli_unknown", headers=staff)
    text = api.get("/metrics").text
    assert 'dpa_http_requests_total{method="GET",route="/v1/clients",status="200"} 1.0' in text
    assert (
        'dpa_http_requests_total{method="GET",route="/v1/clients/{client_id}",status="404"} 1.0'
        in text
    )
    assert "dpa_http_request_duration_seconds_bucket" in text
