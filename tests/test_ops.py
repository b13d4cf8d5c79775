"""/healthz, /readyz and /metrics against the real app, worker included."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlmodel import Session

from app.auth import service as auth_service
from app.auth.schemas import Role
from app.clock import MovableClock
from app.main import create_app
from app.settings import Settings
from tests.conftest import Tenant, bearer, make_settings


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
    text = api.get("/metrics", headers=staff).text
    assert 'dpa_http_requests_total{method="GET",route="/v1/clients",status="200"} 1.0' in text
    assert (
        'dpa_http_requests_total{method="GET",route="/v1/clients/{client_id}",status="404"} 1.0'
        in text
    )
    assert "dpa_http_request_duration_seconds_bucket" in text


def test_metrics_count_a_made_up_method_as_other(api: TestClient, staff: dict) -> None:
    """A label value per method a client invents would grow the registry without bound."""
    for method in ("BREW", "WHEN", "GET"):
        api.request(method, "/v1/clients", headers=staff)
    text = api.get("/metrics", headers=staff).text
    assert 'dpa_http_requests_total{method="GET",route="/v1/clients",status="200"} 1.0' in text
    assert 'dpa_http_requests_total{method="other",route="/v1/clients",status="405"} 2.0' in text
    assert "BREW" not in text and "WHEN" not in text


def test_metrics_need_a_staff_key_or_the_scraper_token(
    settings: Settings, clock: MovableClock
) -> None:
    app = create_app(
        settings.model_copy(update={"metrics_token": SecretStr("scrape-me-7Kq2")}),
        clock,
        bootstrap=False,
    )
    with TestClient(app) as api:
        anonymous = api.get("/metrics")
        assert anonymous.status_code == 401
        assert anonymous.headers["content-type"] == "application/problem+json"
        assert anonymous.headers["www-authenticate"] == "Bearer"
        assert api.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        scraper = api.get("/metrics", headers={"Authorization": "Bearer scrape-me-7Kq2"})
        assert scraper.status_code == 200
        assert "dpa_http_requests_total" in scraper.text
        context = app.state.context
        with Session(context.engine) as session:
            _key, plain = auth_service.create_key(
                session, clock, context.settings.key_hash_secret, role=Role.staff
            )
            session.commit()
        assert api.get("/metrics", headers=bearer(plain)).status_code == 200


def test_every_answer_is_nosniff_and_api_answers_are_not_stored(
    api: TestClient, staff: dict, tenant_a: Tenant
) -> None:
    created = api.post(f"/v1/clients/{tenant_a.id}/api-keys", json={"name": "x"}, headers=staff)
    assert created.status_code == 201
    for response in (
        created,
        api.get("/v1/clients", headers=staff),
        api.get("/v1/clients"),  # a problem too
        api.get("/healthz"),
        api.get("/docs"),
    ):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["cache-control"] == "no-store"
    asset = api.get("/docs/assets/swagger-ui.css")
    assert asset.headers["x-content-type-options"] == "nosniff"
    assert "no-store" not in asset.headers.get("cache-control", "")
    # Swagger UI forgets the pasted key when the page closes, unless configured otherwise.
    assert '"persistAuthorization": false' in api.get("/docs").text
