from __future__ import annotations

from typing import Any

from app.auth.dependencies import PrincipalDep
from app.clients.dependencies import VisibleClientDep
from app.context import ClockDep
from app.db import SessionDep
from app.errors import problem_responses
from app.pagination import Page, PageDep, page_of
from app.routing import api_router
from app.subject_requests import service
from app.subject_requests.dependencies import DsrDep, StaffDsrDep
from app.subject_requests.schemas import Completion, DsrCreate, DsrPublic

router = api_router("/v1/clients/{client_id}/data-subject-requests", "data-subject requests", 404)


@router.post(
    "",
    status_code=201,
    summary="Order an action on a data subject's data",
    response_model=DsrPublic,
)
def order(
    data: DsrCreate,
    client: VisibleClientDep,
    principal: PrincipalDep,
    session: SessionDep,
    clock: ClockDep,
) -> Any:
    """Seed §2.5: rectification, erasure, restriction, access or portability, by a due date;
    SCR staff get reminders before it."""
    return service.order(session, clock, principal, client, data)


@router.get("", summary="A client's data-subject requests", response_model=Page[DsrPublic])
def list_dsrs(client: VisibleClientDep, session: SessionDep, params: PageDep) -> Any:
    return page_of(DsrPublic, *service.list_for(session, client, params))


@router.get("/{request_id}", summary="One data-subject request", response_model=DsrPublic)
def get_dsr(request: DsrDep) -> Any:
    return request


@router.post(
    "/{request_id}/complete",
    summary="Record that it was done, with evidence (staff)",
    response_model=DsrPublic,
    responses=problem_responses(403, 409),
)
def complete(data: Completion, request: StaffDsrDep, session: SessionDep, clock: ClockDep) -> Any:
    return service.complete(session, clock, request, data.evidence)
