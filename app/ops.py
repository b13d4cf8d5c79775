"""/healthz, /readyz, /metrics: for load balancers, orchestrators and Prometheus."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy import text
from sqlmodel import Session

from app import migrate
from app.auth.throttle import address_of, authenticate_request
from app.errors import TooManyRequests, Unauthorized, problem_response, problem_responses

router = APIRouter(tags=["ops"])


def _metrics_refusal(request: Request) -> Response | None:
    """None if the caller may read /metrics, else the problem to answer."""
    context = request.app.state.context
    authorization = request.headers.get("authorization")
    token = context.settings.metrics_token
    if token is not None and authorization is not None:
        scheme, _, presented = authorization.partition(" ")
        expected = token.get_secret_value()
        if scheme.lower() == "bearer" and hmac.compare_digest(
            presented.strip().encode(), expected.encode()
        ):
            return None
    try:
        with Session(context.engine) as session:
            principal = authenticate_request(
                session, context, authorization, address_of(request.client)
            ).principal
    except TooManyRequests as exc:
        return problem_response(
            429, exc.slug, exc.detail, request, headers=exc.headers(), **exc.extra
        )
    except Unauthorized as exc:
        return problem_response(
            401,
            "unauthorized",
            f"{exc.detail} /metrics needs a staff API key or the DPA_METRICS_TOKEN.",
            request,
            title="Unauthorized",
            headers=exc.headers(),
        )
    if not principal.is_staff:
        return problem_response(
            403, "forbidden", "/metrics needs a staff API key.", request, title="Forbidden"
        )
    return None


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    checks: dict[str, str]


@router.get("/healthz", summary="Is the process up", response_model=Health)
def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    summary="Can this process do its work",
    response_model=Readiness,
    responses=problem_responses(503),
)
def readyz(request: Request) -> Readiness | Response:
    """Database reachable, migrations at head, and (where the worker is on) the scheduler alive."""
    context = request.app.state.context
    checks: dict[str, str] = {}
    try:
        with context.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        checks["database"] = "ok"
        checks["migrations"] = (
            "ok" if migrate.at_head(context.engine) else f"not at head {migrate.HEAD}"
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
    responses={
        200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text."},
        **problem_responses(401, 403),
    },
)
def metrics(request: Request) -> Response:
    """Needs `Authorization: Bearer <DPA_METRICS_TOKEN>` (for the scraper) or a staff key."""
    refused = _metrics_refusal(request)
    if refused is not None:
        return refused
    return Response(
        generate_latest(request.app.state.context.metrics.registry), media_type=CONTENT_TYPE_LATEST
    )
