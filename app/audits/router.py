from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query

from app import workdays
from app.audits import service
from app.audits.dependencies import AuditDep, CalendarDep, StaffAuditDep
from app.audits.schemas import (
    AuditCreate,
    AuditDecision,
    AuditPublic,
    AuditSchedule,
    AuditStatus,
    EarliestStart,
    Holiday,
    WorkingDays,
)
from app.auth.dependencies import PrincipalDep
from app.bounds import Day
from app.clients.dependencies import StaffClientDep, VisibleClientDep
from app.context import ClockDep, SettingsDep
from app.db import SessionDep
from app.errors import problem_responses
from app.pagination import Page, PageDep, page_of
from app.routing import api_router

router = api_router("/v1/clients/{client_id}/audits", "audits", 404)
calendar = api_router("/v1/calendar", "calendar")


@router.post("", status_code=201, summary="Request an audit", response_model=AuditPublic)
def request_audit(
    data: AuditCreate,
    client: VisibleClientDep,
    principal: PrincipalDep,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> Any:
    """Seed §2.5: at least 30 working days' notice in the client's calendar; a shorter one is
    refused with the `earliest_start`, unless on an emergency basis: a proven or probable
    breach (then `pending_agreement` until SCR staff agree) or a judge's order (accepted)."""
    return service.request_audit(session, clock, settings, principal, client, data)


@router.get("", summary="List a client's audits", response_model=Page[AuditPublic])
def list_audits(
    client: VisibleClientDep,
    session: SessionDep,
    params: PageDep,
    status: AuditStatus | None = Query(None, description="Only audits in this status."),
) -> Any:
    return page_of(AuditPublic, *service.list_audits(session, client, params, status))


@router.get("/{audit_id}", summary="Get an audit", response_model=AuditPublic)
def get_audit(audit: AuditDep) -> Any:
    return audit


@router.post(
    "/{audit_id}/accept",
    summary="Accept an audit, or agree to an emergency's shorter notice (staff)",
    response_model=AuditPublic,
    responses=problem_responses(403, 409),
)
def accept(
    audit: StaffAuditDep,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    data: AuditDecision | None = None,
) -> Any:
    """A court order a client declared (`pending_verification`) is accepted only with the
    `court_name`, `court_order_date` and `court_order_ref` staff checked (422, rule
    `audit-court-order-verification`)."""
    return service.accept(session, clock, settings, principal, audit, data or AuditDecision())


@router.post(
    "/{audit_id}/reject",
    summary="Reject an audit request (staff)",
    response_model=AuditPublic,
    responses=problem_responses(403, 409),
)
def reject(
    audit: StaffAuditDep,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    data: AuditDecision | None = None,
) -> Any:
    """Every rejection needs a `reason` (422, rule `audit-rejection-reason`), carried in
    `audit.rejected`."""
    return service.reject(session, clock, settings, audit, data.reason if data else None)


@router.post(
    "/{audit_id}/schedule",
    summary="Schedule an accepted audit (staff)",
    response_model=AuditPublic,
    responses=problem_responses(403, 409),
)
def schedule(
    data: AuditSchedule,
    client: StaffClientDep,
    audit: StaffAuditDep,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> Any:
    """A penetration test needs the tripartite agreement: testing organisation, a test window
    inside the audit dates, the nature of the tests and the liability release."""
    return service.schedule(session, clock, settings, client, audit, data)


@router.post(
    "/{audit_id}/complete",
    summary="Record that a scheduled audit took place (staff)",
    response_model=AuditPublic,
    responses=problem_responses(403, 409),
)
def complete(audit: StaffAuditDep, session: SessionDep, clock: ClockDep) -> Any:
    return service.complete(session, clock, audit)


@router.post(
    "/{audit_id}/cancel",
    summary="Cancel an audit (client or staff)",
    response_model=AuditPublic,
    responses=problem_responses(403, 409),
)
def cancel(
    audit: AuditDep,
    principal: PrincipalDep,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> Any:
    return service.cancel(session, clock, settings, principal, audit)


@calendar.get(
    "/earliest-audit-start",
    summary="The earliest audit start for a request received on a day",
    response_model=EarliestStart,
)
def earliest_audit_start(
    _principal: PrincipalDep,
    received: Annotated[
        Day, Query(description="The day the request is received (client's time zone).")
    ],
    code: CalendarDep,
) -> Any:
    notice = workdays.working_days_after(received, workdays.AUDIT_NOTICE_WORKING_DAYS, code)
    return EarliestStart(
        received=received,
        calendar=code,
        notice_working_days=workdays.AUDIT_NOTICE_WORKING_DAYS,
        notice_ends=notice[-1],
        earliest_start=workdays.earliest_audit_start(received, code),
    )


@calendar.get(
    "/working-days",
    summary="The working days that follow a day (it does not count)",
    response_model=WorkingDays,
)
def working_days(
    _principal: PrincipalDep,
    start: Annotated[Day, Query(description="The day to count from (not counted).")],
    code: CalendarDep,
    days: int = Query(30, ge=1, le=366),
) -> Any:
    found = workdays.working_days_after(start, days, code)
    return WorkingDays(start=start, calendar=code, days=days, working_days=found, end=found[-1])


@calendar.get(
    "/holidays", summary="Public holidays of a calendar in a year", response_model=list[Holiday]
)
def holidays_of(
    _principal: PrincipalDep,
    code: CalendarDep,
    year: int = Query(ge=1970, le=2100),
) -> Any:
    return [Holiday(date=day, name=name) for day, name in workdays.holidays_of(code, year).items()]
