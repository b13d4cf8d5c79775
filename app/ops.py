"""/healthz, /readyz, /metrics: for load balancers, orchestrators and Prometheus."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy import text

from app import migrate
from app.errors import problem_response, problem_responses

router = APIRouter(tags=["ops"])


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    checks: dict[str, str]


@router.get("/healthz", summary="Is the process up", response_model=Health)
def healthz() -> Any:
    return Health(status="ok")


@router.get(
    "/readyz",
    summary="Can this process do its work",
    response_model=Readiness,
    responses=problem_responses(503),
)
def readyz(request: Request) -> Any:
    """Database reachable, migrations at head, and (where the worker is on) the scheduler alive."""
    context = request.app.state.context
    checks: dict[str, str] = {}
    try:
        with context.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        checks["database"] = "ok"
        checks["migrations"] = (
            "ok" if migrate.at_head(context.engine) else f"not at head {migrate.head_revision()}"
        )
    except Exception as exc:  # readiness reports any failure; it never raises
        checks["database"] = f"unreachable: {type(exc).__name__}"
        checks["migrations"] = "unknown"
    if context.settings.worker_enabled:
        checks["scheduler"] = "ok" if context.worker and context.worker.alive() else "not running"
    else:
        checks["scheduler"] = "off in this process (DPA_WORKER_ENABLED=false)"
    failing = [
        name for name, state in checks.items() if state != "ok" and not state.startswith("off")
    ]
    if failing:
        return problem_response(
            503,
            "not-ready",
            f"Not ready: {', '.join(failing)}.",
            request,
            title="Service unavailable",
            checks=checks,
        )
    return Readiness(status="ready", checks=checks)


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text."}},
)
def metrics(request: Request) -> Response:
    return Response(
        generate_latest(request.app.state.context.metrics.registry), media_type=CONTENT_TYPE_LATEST
    )
