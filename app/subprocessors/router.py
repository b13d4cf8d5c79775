from __future__ import annotations

from typing import Any

from app.auth.dependencies import PrincipalDep, StaffDep
from app.clients.dependencies import StaffClientDep, VisibleClientDep
from app.context import ClockDep, SettingsDep
from app.db import SessionDep
from app.errors import problem_responses
from app.pagination import Page, PageDep
from app.routing import api_router
from app.subprocessors import authorisation, changes, service
from app.subprocessors.dependencies import ChangeDep, SubDep
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
change_notices = api_router("/v1/subprocessor-changes", "sub-processors")
per_client = api_router("/v1/clients/{client_id}/subprocessors", "sub-processors", 404)


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
    return authorisation.client_view(session, clock, principal, client)


@per_client.post(
    "/{subprocessor_id}/consent",
    status_code=201,
    summary="Record the client's consent to a transfer (seed §2.9)",
    response_model=ClientSubProcessor,
    responses=problem_responses(409),
)
def consent(
    data: ConsentCreate,
    client: VisibleClientDep,
    sub: SubDep,
    principal: PrincipalDep,
    session: SessionDep,
    clock: ClockDep,
) -> Any:
    return authorisation.give_consent(session, clock, principal, client, sub, data.document_ref)


@per_client.post(
    "/{subprocessor_id}/initial-acceptance",
    status_code=201,
    summary="Record that it was on the list annexed to the client's agreement (staff)",
    response_model=ClientSubProcessor,
    responses=problem_responses(403, 409),
)
def initial_acceptance(
    data: InitialAcceptanceCreate,
    client: StaffClientDep,
    sub: SubDep,
    principal: PrincipalDep,
    session: SessionDep,
    clock: ClockDep,
) -> Any:
    """Seed §2.8: the sub-processors a client accepted at signature, with the contract that
    lists them. The only path to `authorised` without a change notice; adding the client to a
    sub-processor's `client_ids`, or activating it, authorises nothing by itself."""
    return authorisation.accept_initially(session, clock, principal, client, sub, data.contract_ref)


@change_notices.post(
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
    return changes.change_view(
        session, principal, changes.create_change(session, clock, settings, principal, data)
    )


@change_notices.get("", summary="List sub-processor changes", response_model=Page[ChangePublic])
def list_changes(principal: PrincipalDep, session: SessionDep, params: PageDep) -> Any:
    rows, cursor = changes.list_changes(session, principal, params)
    return {
        "items": [changes.change_view(session, principal, r) for r in rows],
        "next_cursor": cursor,
    }


@change_notices.get(
    "/{change_id}",
    summary="Get a sub-processor change",
    response_model=ChangePublic,
    responses=problem_responses(404),
)
def get_change(change: ChangeDep, principal: PrincipalDep, session: SessionDep) -> Any:
    return changes.change_view(session, principal, change)


@change_notices.post(
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
    changes.respond(session, clock, principal, change, "objected", data.client_id, data.reason)
    return changes.change_view(session, principal, change)


@change_notices.post(
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
    changes.respond(
        session,
        clock,
        principal,
        change,
        "approved",
        data.client_id if data else None,
        data.reason if data else None,
    )
    return changes.change_view(session, principal, change)
