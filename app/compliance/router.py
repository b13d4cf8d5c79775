from __future__ import annotations

from typing import Any

from app.auth.dependencies import StaffDep
from app.clients.dependencies import VisibleClientDep
from app.compliance import service
from app.compliance.schemas import ComplianceStatus
from app.context import ClockDep, SettingsDep
from app.db import SessionDep
from app.errors import problem_responses
from app.routing import api_router

router = api_router("/v1", "evidence")


@router.get(
    "/clients/{client_id}/compliance",
    summary="Is this client's file in order: the checks, one by one",
    response_model=ComplianceStatus,
    responses=problem_responses(404),
)
def client_compliance(
    client: VisibleClientDep, session: SessionDep, clock: ClockDep, settings: SettingsDep
) -> Any:
    """From live data, now: instructions in force complete and acknowledged; DPO or privacy
    contact known; a breach channel that works (an endpoint subscribed to breach events with a
    2xx in 30 days, or the e-mail fallback); notices not yet received; open objection windows;
    audits upcoming; open breaches with the time left on each 72-hour deadline; security
    exceptions in force; data-subject requests overdue; the processor profile. Each check is
    `ok`, `warning` or `failing`, with its reason and records."""
    return service.status_of(session, clock, settings, client)


@router.get(
    "/compliance",
    summary="Every client's compliance status, worst first (staff)",
    response_model=list[ComplianceStatus],
    responses=problem_responses(403),
)
def compliance_overview(
    _staff: StaffDep, session: SessionDep, clock: ClockDep, settings: SettingsDep
) -> Any:
    return service.overview(session, clock, settings)
