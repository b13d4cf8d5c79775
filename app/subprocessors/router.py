from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path

from app.auth.dependencies import PrincipalDep, StaffDep
from app.clients.dependencies import StaffClientDep, VisibleClientDep
from app.context import ClockDep, SettingsDep
from app.db import SessionDep
from app.errors import problem_responses
from app.pagination import Page, PageDep
from app.routing import api_router
from app.subprocessors import service
from app.subprocessors.models import ChangeNotice, SubProcessor
from app.subprocessors.schemas import (
    ChangeCreate,
    ChangePublic,
    ClientSubProcessor,
    ConsentCreate,
    InitialAcceptanceCreate,
    ResponseCreate,
    SubProcessorCreate,
    SubProcessorPublic,
    SubProcessorStatus,
    SubProcessorUpdate,
)

registry = api_router("/v1/subprocessors", "sub-processors")
changes = api_router("/v1/subprocessor-changes", "sub-processors")
per_client = api_router("/v1/clients/{client_id}/subprocessors", "sub-processors", 404)
SubIdPath = Annotated[str, Path(max_length=40, description="A sub-processor id (`spr_…`).")]
ChangeIdPath = Annotated[str, Path(max_length=40, description="A change notice id (`spc_…`).")]


def visible_sub(
    subprocessor_id: SubIdPath, principal: PrincipalDep, session: SessionDep
) -> SubProcessor:
    return service.get_subprocessor(session, principal, subprocessor_id)


def visible_change(
    change_id: ChangeIdPath, principal: PrincipalDep, session: SessionDep
) -> ChangeNotice:
    return service.get_change(session, principal, change_id)


SubDep = Annotated[SubProcessor, Depends(visible_sub)]
ChangeDep = Annotated[ChangeNotice, Depends(visible_change)]


@registry.post(
    "",
    status_code=201,
    summary="Register a sub-processor (staff)",
    response_model=SubProcessorPublic,
    responses=problem_responses(403),
)
def create_subprocessor(
    data: SubProcessorCreate, principal: StaffDep, session: SessionDep, clock: ClockDep
) -> Any:
    """Registered as `proposed`; `activate` applies the transfer guard (seed §2.9)."""
    return service.view(service.create_subprocessor(session, clock, data), principal)


@registry.get("", summary="List sub-processors", response_model=Page[SubProcessorPublic])
def list_subprocessors(principal: PrincipalDep, session: SessionDep, params: PageDep) -> Any:
    """Staff see the registry; a client key sees those that process its data."""
    rows, cursor = service.list_subprocessors(session, principal, params)
    return {"items": [service.view(r, principal) for r in rows], "next_cursor": cursor}


@registry.get(
    "/{subprocessor_id}",
    summary="Get a sub-processor",
    response_model=SubProcessorPublic,
    responses=problem_responses(404),
)
def get_subprocessor(sub: SubDep, principal: PrincipalDep) -> Any:
    return service.view(sub, principal)


@registry.patch(
    "/{subprocessor_id}",
    summary="Change a sub-processor (staff)",
    response_model=SubProcessorPublic,
    responses=problem_responses(403, 404),
)
def update_subprocessor(
    data: SubProcessorUpdate,
    sub: SubDep,
    principal: StaffDep,
    session: SessionDep,
    clock: ClockDep,
) -> Any:
    return service.view(service.update_subprocessor(session, clock, sub, data), principal)


@registry.post(
    "/{subprocessor_id}/activate",
    summary="Make a sub-processor active (staff)",
    response_model=SubProcessorPublic,
    responses=problem_responses(403, 404, 409),
)
def activate(sub: SubDep, principal: StaffDep, session: SessionDep, clock: ClockDep) -> Any:
    """Refused (rule `transfer-guard-safeguards`) for a country outside the EEA and the
    adequacy decisions without `scc` or `bcr`."""
    return service.view(
        service.set_status(session, clock, sub, SubProcessorStatus.active), principal
    )


@registry.post(
    "/{subprocessor_id}/retire",
    summary="Retire a sub-processor (staff)",
    response_model=SubProcessorPublic,
    responses=problem_responses(403, 404, 409),
)
def retire(sub: SubDep, principal: StaffDep, session: SessionDep, clock: ClockDep) -> Any:
    return service.view(
        service.set_status(session, clock, sub, SubProcessorStatus.retired), principal
    )


@per_client.get(
    "",
    summary="Each sub-processor with its authorisation for this client",
    response_model=list[ClientSubProcessor],
)
def client_subprocessors(
    client: VisibleClientDep, principal: PrincipalDep, session: SessionDep, clock: ClockDep
) -> Any:
    return service.client_view(session, clock, principal, client)


@per_client.post(
    "/{subprocessor_id}/consent",
    status_code=201,
    summary="Record the client's consent to a transfer (seed §2.9)",
    response_model=ClientSubProcessor,
    responses=problem_responses(409),
)
def consent(
    data: ConsentCreate,
    subprocessor_id: SubIdPath,
    client: VisibleClientDep,
    principal: PrincipalDep,
    session: SessionDep,
    clock: ClockDep,
) -> Any:
    sub = service.get_subprocessor(session, principal, subprocessor_id)
    service.give_consent(session, clock, principal, client, sub, data.document_ref)
    return next(v for v in service.client_view(session, clock, principal, client) if v.id == sub.id)


@per_client.post(
    "/{subprocessor_id}/initial-acceptance",
    status_code=201,
    summary="Record that it was on the list annexed to the client's agreement (staff)",
    response_model=ClientSubProcessor,
    responses=problem_responses(403, 409),
)
def initial_acceptance(
    data: InitialAcceptanceCreate,
    subprocessor_id: SubIdPath,
    client: StaffClientDep,
    principal: PrincipalDep,
    session: SessionDep,
    clock: ClockDep,
) -> Any:
    """Seed §2.8: the sub-processors a client accepted at signature, with the contract that
    lists them. The only path to `authorised` without a change notice; adding the client to a
    sub-processor's `client_ids`, or activating it, authorises nothing by itself."""
    sub = service.get_subprocessor(session, principal, subprocessor_id)
    service.accept_initially(session, clock, principal, client, sub, data.contract_ref)
    return next(v for v in service.client_view(session, clock, principal, client) if v.id == sub.id)


@changes.post(
    "",
    status_code=201,
    summary="Notify a sub-processor change (staff)",
    response_model=ChangePublic,
    responses=problem_responses(403),
)
def create_change(
    data: ChangeCreate,
    principal: StaffDep,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> Any:
    """Seed §2.8: every affected client gets `subprocessor.change_notice`. Its
    `objection_deadline` runs from the notice's arrival at that client (a 2xx from one of its
    endpoints, its contacts' mail server accepting the e-mail, or its own answer), counted as
    French law counts periods; until then the client's state is `notice_pending`. The effective
    date must follow the last deadline (at the soonest, if every notice arrived today)."""
    return service.change_view(
        session, principal, service.create_change(session, clock, settings, principal, data)
    )


@changes.get("", summary="List sub-processor changes", response_model=Page[ChangePublic])
def list_changes(principal: PrincipalDep, session: SessionDep, params: PageDep) -> Any:
    rows, cursor = service.list_changes(session, principal, params)
    return {
        "items": [service.change_view(session, principal, r) for r in rows],
        "next_cursor": cursor,
    }


@changes.get(
    "/{change_id}",
    summary="Get a sub-processor change",
    response_model=ChangePublic,
    responses=problem_responses(404),
)
def get_change(change: ChangeDep, principal: PrincipalDep, session: SessionDep) -> Any:
    return service.change_view(session, principal, change)


@changes.post(
    "/{change_id}/objections",
    summary="Object to a change (client; staff on its behalf)",
    response_model=ChangePublic,
    responses=problem_responses(404, 409),
)
def object_to(
    data: ResponseCreate,
    change: ChangeDep,
    principal: PrincipalDep,
    session: SessionDep,
    clock: ClockDep,
) -> Any:
    service.respond(session, clock, principal, change, "objected", data.client_id, data.reason)
    return service.change_view(session, principal, change)


@changes.post(
    "/{change_id}/approvals",
    summary="Approve a change (client; staff on its behalf)",
    response_model=ChangePublic,
    responses=problem_responses(404, 409),
)
def approve(
    change: ChangeDep,
    principal: PrincipalDep,
    session: SessionDep,
    clock: ClockDep,
    data: ResponseCreate | None = None,
) -> Any:
    service.respond(
        session,
        clock,
        principal,
        change,
        "approved",
        data.client_id if data else None,
        data.reason if data else None,
    )
    return service.change_view(session, principal, change)
