from __future__ import annotations

from typing import Any

from app.auth.dependencies import PrincipalDep
from app.clients.dependencies import VisibleClientDep
from app.context import ClockDep
from app.db import SessionDep
from app.errors import problem_responses
from app.pagination import Page, PageDep, page_of
from app.routing import api_router
from app.security_exceptions import service
from app.security_exceptions.dependencies import ExceptionDep, StaffExceptionDep
from app.security_exceptions.schemas import Decision, ExceptionCreate, ExceptionPublic

router = api_router("/v1/clients/{client_id}/security-exceptions", "security exceptions", 404)


@router.post(
    "",
    status_code=201,
    summary="Request an exception to the agreed security measures",
    response_model=ExceptionPublic,
)
def request_exception(
    data: ExceptionCreate,
    client: VisibleClientDep,
    principal: PrincipalDep,
    session: SessionDep,
    clock: ClockDep,
) -> Any:
    """Seed §2.3: in writing, with its nature, duration and impact analysis."""
    return service.request(session, clock, principal, client, data)


@router.get("", summary="A client's security exceptions", response_model=Page[ExceptionPublic])
def list_exceptions(client: VisibleClientDep, session: SessionDep, params: PageDep) -> Any:
    return page_of(ExceptionPublic, *service.list_for(session, client, params))


@router.get("/{exception_id}", summary="One security exception", response_model=ExceptionPublic)
def get_exception(exception: ExceptionDep) -> Any:
    return exception


@router.post(
    "/{exception_id}/approve",
    summary="Approve a security exception (staff)",
    response_model=ExceptionPublic,
    responses=problem_responses(403, 409),
)
def approve_exception(
    exception: StaffExceptionDep,
    session: SessionDep,
    clock: ClockDep,
    data: Decision | None = None,
) -> Any:
    return service.decide(session, clock, exception, True, data.reason if data else None)


@router.post(
    "/{exception_id}/reject",
    summary="Reject a security exception (staff)",
    response_model=ExceptionPublic,
    responses=problem_responses(403, 409),
)
def reject_exception(
    exception: StaffExceptionDep,
    session: SessionDep,
    clock: ClockDep,
    data: Decision | None = None,
) -> Any:
    return service.decide(session, clock, exception, False, data.reason if data else None)
