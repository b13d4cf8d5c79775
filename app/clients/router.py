from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Query

from app.auth.dependencies import PrincipalDep, StaffDep
from app.clients import service
from app.clients.dependencies import StaffClientDep, VisibleClientDep
from app.clients.schemas import (
    ClientCreate,
    ClientPublic,
    ClientUpdate,
    ContactCreate,
    ContactPublic,
    ContactRole,
)
from app.context import ClockDep
from app.db import SessionDep
from app.errors import problem_responses
from app.pagination import Page, PageDep, page_of
from app.routing import api_router

router = api_router("/v1/clients", "clients")

ContactIdPath = Annotated[str, Path(max_length=40, description="A contact id (`con_…`).")]


@router.post(
    "",
    status_code=201,
    summary="Register a client (staff)",
    response_model=ClientPublic,
    responses=problem_responses(403),
)
def create_client(
    data: ClientCreate, _staff: StaffDep, session: SessionDep, clock: ClockDep
) -> Any:
    """A controller on whose behalf SCR processes personal data (seed §1)."""
    return service.create_client(session, clock, data)


@router.get("", summary="List clients", response_model=Page[ClientPublic])
def list_clients(principal: PrincipalDep, session: SessionDep, params: PageDep) -> Any:
    """Staff see every client, newest first; a client key sees only its own client."""
    return page_of(ClientPublic, *service.list_clients(session, principal, params))


@router.get(
    "/{client_id}",
    summary="Get a client",
    response_model=ClientPublic,
    responses=problem_responses(404),
)
async def get_client(client: VisibleClientDep) -> Any:
    return client


@router.patch(
    "/{client_id}",
    summary="Change a client (staff)",
    response_model=ClientPublic,
    responses=problem_responses(403, 404),
)
def update_client(
    data: ClientUpdate, client: StaffClientDep, session: SessionDep, clock: ClockDep
) -> Any:
    """Only the fields sent change."""
    return service.update_client(session, clock, client, data)


@router.post(
    "/{client_id}/contacts",
    status_code=201,
    summary="Record a contact the client communicated in writing",
    response_model=ContactPublic,
    responses=problem_responses(404),
)
def add_contact(
    data: ContactCreate, client: VisibleClientDep, session: SessionDep, clock: ClockDep
) -> Any:
    """Seed §2.3. Naming a new DPO ends the current DPO's term (`ended_at`, `replaced_by_id`);
    the earlier DPOs stay listed as history."""
    return service.add_contact(session, clock, client, data)


@router.get(
    "/{client_id}/contacts",
    summary="List a client's contacts, past and current",
    response_model=Page[ContactPublic],
    responses=problem_responses(404),
)
def list_contacts(
    client: VisibleClientDep,
    session: SessionDep,
    params: PageDep,
    role: ContactRole | None = Query(None, description="Only this role; `dpo` gives the history."),
    current: bool | None = Query(None, description="true: current terms only; false: ended only."),
) -> Any:
    return page_of(
        ContactPublic, *service.list_contacts(session, client, params, role=role, current=current)
    )


@router.get(
    "/{client_id}/contacts/{contact_id}",
    summary="Get a contact",
    response_model=ContactPublic,
    responses=problem_responses(404),
)
def get_contact(contact_id: ContactIdPath, client: VisibleClientDep, session: SessionDep) -> Any:
    return service.get_contact(session, client, contact_id)


@router.post(
    "/{client_id}/contacts/{contact_id}/end",
    summary="End a contact's term",
    response_model=ContactPublic,
    responses=problem_responses(404, 409),
)
def end_contact(
    contact_id: ContactIdPath, client: VisibleClientDep, session: SessionDep, clock: ClockDep
) -> Any:
    """The contact stays in the history with `ended_at` set."""
    return service.end_contact(session, clock, client, contact_id)
