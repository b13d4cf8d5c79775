from __future__ import annotations

from typing import Any

from fastapi import Query

from app.auth.dependencies import PrincipalDep, StaffDep
from app.breaches import disclosures, notifying, service, views
from app.breaches.dependencies import (
    BreachDep,
    DisclosureDep,
    StaffBreachDep,
    StaffDisclosureDep,
)
from app.breaches.schemas import (
    Acknowledge,
    BreachCreate,
    BreachPublic,
    BreachReport,
    BreachStatus,
    BreachUpdateCreate,
    DelayReason,
    DisclosureCreate,
    DisclosurePublic,
    TimelineEntry,
)
from app.clients.dependencies import StaffClientDep, VisibleClientDep
from app.context import ClockDep, SettingsDep
from app.db import SessionDep
from app.errors import problem_responses
from app.pagination import Page, PageDep, page_of
from app.routing import api_router

reports = api_router("/v1/clients/{client_id}/breaches", "breaches")
router = api_router("/v1/breaches", "breaches")


@router.post(
    "",
    status_code=201,
    summary="Record a breach and notify every affected client at once (staff)",
    response_model=BreachPublic,
    responses=problem_responses(403),
)
def create_breach(
    data: BreachCreate,
    principal: StaffDep,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> Any:
    """Seed §2.6: proven or suspected, notified as soon as possible and at the latest 72 hours
    after `aware_at`. Each affected client gets `breach.notified` now, then reminders until it
    acknowledges; staff are escalated to when no endpoint of the client answers, and told when
    a `notify_deadline` passes without delivery."""
    breach = notifying.create_breach(session, clock, settings, principal, data)
    return views.view(session, clock, principal, breach)


@reports.post(
    "",
    status_code=201,
    summary="Report a breach to SCR (client)",
    response_model=BreachPublic,
    responses=problem_responses(404),
)
def report_breach(
    data: BreachReport,
    client: VisibleClientDep,
    principal: PrincipalDep,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> Any:
    """Seed §2.6 binds both ways: a client notifies SCR of a breach, proven or suspected,
    that touches data SCR processes. SCR staff get `breach.reported` now and reminders until a
    staff key acknowledges (`POST /v1/breaches/{id}/acknowledge`)."""
    breach = notifying.report_breach(session, clock, settings, principal, client.id, data)
    return views.view(session, clock, principal, breach)


@router.get("", summary="List breaches", response_model=Page[BreachPublic])
def list_breaches(
    principal: PrincipalDep,
    session: SessionDep,
    clock: ClockDep,
    params: PageDep,
    status: BreachStatus | None = Query(None, description="Only breaches in this status."),
) -> Any:
    rows, next_cursor = views.list_breaches(session, principal, params, status)
    return {
        "items": [views.view(session, clock, principal, row) for row in rows],
        "next_cursor": next_cursor,
    }


@router.get(
    "/{breach_id}",
    summary="Get a breach with the time left per client",
    response_model=BreachPublic,
    responses=problem_responses(404),
)
def get_breach(
    breach: BreachDep, principal: PrincipalDep, session: SessionDep, clock: ClockDep
) -> Any:
    return views.view(session, clock, principal, breach)


@router.post(
    "/{breach_id}/acknowledge",
    summary="Acknowledge the notice (client; staff on a client's behalf)",
    response_model=BreachPublic,
    responses=problem_responses(404, 409),
)
def acknowledge(
    breach: BreachDep,
    principal: PrincipalDep,
    session: SessionDep,
    clock: ClockDep,
    data: Acknowledge | None = None,
) -> Any:
    client_id = data.client_id if data else None
    service.acknowledge(session, clock, principal, breach, client_id)
    return views.view(session, clock, principal, breach)


@router.post(
    "/{breach_id}/updates",
    summary="Add information in phases (Art. 33(4)) (staff)",
    response_model=BreachPublic,
    responses=problem_responses(403, 404, 409),
)
def add_update(
    data: BreachUpdateCreate,
    breach: StaffBreachDep,
    principal: PrincipalDep,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> Any:
    service.add_update(session, clock, settings, principal, breach, data)
    return views.view(session, clock, principal, breach)


@router.post(
    "/{breach_id}/delay-reasons",
    summary="Record why a client's 72-hour deadline was missed (staff)",
    response_model=BreachPublic,
    responses=problem_responses(403, 404),
)
def delay_reason(
    data: DelayReason,
    breach: StaffBreachDep,
    principal: PrincipalDep,
    session: SessionDep,
    clock: ClockDep,
) -> Any:
    service.record_delay_reason(session, clock, breach, data.client_id, data.reason)
    return views.view(session, clock, principal, breach)


@router.post(
    "/{breach_id}/close",
    summary="Close a breach (staff)",
    response_model=BreachPublic,
    responses=problem_responses(403, 404, 409),
)
def close(
    breach: StaffBreachDep, principal: PrincipalDep, session: SessionDep, clock: ClockDep
) -> Any:
    """Refused while a missed deadline has no recorded reason for the delay."""
    service.close(session, clock, breach)
    return views.view(session, clock, principal, breach)


@router.get(
    "/{breach_id}/timeline",
    summary="Every event and delivery attempt of a breach, in time order",
    response_model=list[TimelineEntry],
    responses=problem_responses(404),
)
def timeline(breach: BreachDep, principal: PrincipalDep, session: SessionDep) -> Any:
    return views.timeline(session, principal, breach)


disclosures_router = api_router(
    "/v1/clients/{client_id}/disclosure-requests", "disclosure requests", 403, 404
)


@disclosures_router.post(
    "",
    status_code=201,
    summary="Record an authority's request to disclose a client's data (staff)",
    response_model=DisclosurePublic,
)
def create_disclosure(
    data: DisclosureCreate,
    client: StaffClientDep,
    principal: PrincipalDep,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> Any:
    """Seed §2.5: the client is told at once (`disclosure_request.received`, urgent), unless
    `notification_prohibited`: then the request is held and logged until the prohibition is
    lifted. The request is `pending` until the notice reaches the client (a 2xx from one of its
    endpoints, its contacts' mail server accepting the e-mail, or its acknowledgement), then
    `notified`."""
    return disclosures.create(session, clock, settings, principal, client.id, data)


@disclosures_router.get(
    "",
    summary="List a client's disclosure requests (a client: those released to it)",
    response_model=Page[DisclosurePublic],
)
def list_disclosures(
    client: VisibleClientDep, principal: PrincipalDep, session: SessionDep, params: PageDep
) -> Any:
    return page_of(DisclosurePublic, *disclosures.list_for(session, principal, client.id, params))


@disclosures_router.get(
    "/{disclosure_id}",
    summary="Get a disclosure request (a client: once released to it)",
    response_model=DisclosurePublic,
)
def get_disclosure(request: DisclosureDep) -> Any:
    return request


@disclosures_router.post(
    "/{disclosure_id}/acknowledge",
    summary="Confirm the client has been told (client, or staff on its behalf)",
    response_model=DisclosurePublic,
    responses=problem_responses(409),
)
def acknowledge_disclosure(
    request: DisclosureDep, principal: PrincipalDep, session: SessionDep, clock: ClockDep
) -> Any:
    """An acknowledgement proves receipt: a request still `pending` becomes `notified`."""
    return disclosures.acknowledge(session, clock, principal, request)


@disclosures_router.post(
    "/{disclosure_id}/lift-prohibition",
    summary="The prohibition is lifted: tell the client now (staff)",
    response_model=DisclosurePublic,
    responses=problem_responses(409),
)
def lift_prohibition(
    request: StaffDisclosureDep, session: SessionDep, clock: ClockDep, settings: SettingsDep
) -> Any:
    return disclosures.lift_prohibition(session, clock, settings, request)
