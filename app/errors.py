"""Every error is application/problem+json (RFC 9457). Services raise DomainError subclasses;
the handlers here are the only place that turns anything into an HTTP error response."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_MEDIA_TYPE = "application/problem+json"
log = logging.getLogger("dpa.errors")
# What a client is told to wait when the database cannot be used (Retry-After, seconds).
DATABASE_RETRY_SECONDS = 5

_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}


def problem_type(slug: str) -> str:
    return f"urn:dpa-service:problem:{slug}"


class FieldError(BaseModel):
    field: str = Field(description="Where the bad value is, e.g. `body.timezone` or `query.limit`.")
    message: str
    type: str


class Problem(BaseModel):
    """RFC 9457 problem details. Rule violations add `rule` and what would satisfy it."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(examples=["urn:dpa-service:problem:not-found"])
    title: str
    status: int
    detail: str
    instance: str | None = None
    request_id: str | None = None
    errors: list[FieldError] | None = None


def problem_response(
    status: int,
    slug: str,
    detail: str,
    request: Request | None = None,
    *,
    title: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """The one problem builder."""
    body: dict[str, Any] = {
        "type": problem_type(slug),
        "title": title or _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if request is not None:
        body["instance"] = request.url.path
        request_id = getattr(request.state, "request_id", None)
        if request_id:
            body["request_id"] = request_id
    body.update({key: value for key, value in extra.items() if value is not None})
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_MEDIA_TYPE)


class DomainError(Exception):
    status = 400
    slug = "bad-request"
    title: str | None = None

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra

    def headers(self) -> dict[str, str] | None:
        return None


class Unauthorized(DomainError):
    status = 401
    slug = "unauthorized"

    def headers(self) -> dict[str, str] | None:
        return {"WWW-Authenticate": "Bearer"}


class TooManyRequests(DomainError):
    status = 429
    slug = "too-many-requests"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail, retry_after=retry_after)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str] | None:
        return {"Retry-After": str(self.retry_after)}


class Forbidden(DomainError):
    status = 403
    slug = "forbidden"


class NotFound(DomainError):
    status = 404
    slug = "not-found"

    def __init__(self, kind: str, identifier: str) -> None:
        super().__init__(f"No {kind} with id {identifier!r}.")


class Conflict(DomainError):
    status = 409
    slug = "conflict"


class RuleViolation(DomainError):
    """A request that is well-formed but breaks a rule of the agreement or of the service."""

    status = 422
    slug = "rule-violation"
    title = "Rule violation"

    def __init__(self, rule: str, detail: str, **extra: Any) -> None:
        super().__init__(detail, rule=rule, **extra)


def field_errors(field: str, message: str) -> list[dict[str, str]]:
    """The `errors` member of a rule violation that names one input field."""
    return [{"field": field, "message": message, "type": "value_error"}]


def _field_name(location: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(part) for part in location)


def validation_problem(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [
        {
            "field": _field_name(error.get("loc", ())),
            "message": error.get("msg", ""),
            "type": error.get("type", ""),
        }
        for error in exc.errors()
    ]
    names = ", ".join(dict.fromkeys(error["field"] for error in errors)) or "the request"
    return problem_response(
        422,
        "validation-error",
        f"Invalid value in: {names}.",
        request,
        errors=errors,
        title="Validation error",
    )


def _allowed_methods(request: Request) -> list[str]:
    """Every method the path allows (Starlette's own Allow header names only the first route's)."""
    allowed: set[str] = set()
    for route in iter_route_contexts(request.app.routes):
        regex = getattr(route, "path_regex", None)
        if regex is not None and regex.match(request.url.path):
            allowed.update(route.methods or ())
    return sorted(allowed)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        return problem_response(
            exc.status,
            exc.slug,
            exc.detail,
            request,
            title=exc.title,
            headers=exc.headers(),
            **exc.extra,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return validation_problem(request, exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else _TITLES.get(exc.status_code, "")
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"There is no resource at {request.url.path}."
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:
            allowed = _allowed_methods(request)
            detail = (
                f"{request.method} is not allowed on {request.url.path}; "
                f"allowed: {', '.join(allowed)}."
            )
            headers = {"Allow": ", ".join(allowed)}
        slug = _TITLES.get(exc.status_code, "error").lower().replace(" ", "-")
        return problem_response(exc.status_code, slug, detail, request, headers=headers)

    @app.exception_handler(OperationalError)
    @app.exception_handler(PoolTimeout)
    async def _database(request: Request, exc: Exception) -> JSONResponse:
        """The database could not be used: gone, refusing connections, out of connections, a
        file that cannot be opened (PEP 249's OperationalError: the database's operation, not
        the request). A client system can do something with a 503 and Retry-After; with a 500
        it cannot tell an outage from a bug. Logged in one line each: an outage is many."""
        cause = getattr(exc, "orig", None) or exc
        first_line = (str(cause).strip().splitlines() or [""])[0][:300]
        log.error(
            "the database could not be used on %s %s: %s: %s",
            request.method,
            request.url.path,
            type(cause).__name__,
            first_line,
        )
        return problem_response(
            503,
            "database-unavailable",
            "The service could not use its database; try again in a few seconds. A write that "
            "fails this way was not committed, unless the connection broke during the commit "
            "itself: repeat it with the same Idempotency-Key (answered once, whichever run "
            "committed), or read before writing again.",
            request,
            title="Database unavailable",
            headers={"Retry-After": str(DATABASE_RETRY_SECONDS)},
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return problem_response(
            500,
            "internal-error",
            "The service failed unexpectedly; nothing was changed. Quote the request_id when "
            "reporting it.",
            request,
        )


def internal_error(request: Request, exc: BaseException) -> JSONResponse:
    """A 500 that says nothing of the internals; the traceback goes to the log only."""
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(
        500,
        "internal-error",
        "The service failed unexpectedly; nothing was changed. Quote the request_id when "
        "reporting it.",
        request,
    )


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI documentation of error responses (served as problem+json: see app.main)."""
    descriptions = {
        400: "Malformed request: a body that cannot be read as JSON text, or not whole.",
        401: "Missing, malformed, unknown or revoked API key.",
        403: "The key's role may not do this.",
        404: "No such object, or not visible to this key.",
        409: "Conflicts with the current state.",
        422: "Invalid input (the offending fields are named) or a rule violation.",
        503: "Not ready.",
    }
    return {
        status: {
            "model": Problem,
            "description": descriptions.get(status, _TITLES.get(status, "Error")),
        }
        for status in statuses
    }
