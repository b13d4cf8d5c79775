"""Load-or-404 for a client's audits (the client first: a client key sees only its own; staff
decisions need a staff key), and the holiday calendar a query names."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query

from app import workdays
from app.audits import service
from app.audits.models import Audit
from app.clients.dependencies import StaffClientDep, VisibleClientDep
from app.db import SessionDep
from app.errors import RuleViolation, field_errors

AuditIdPath = Annotated[str, Path(max_length=40, description="An audit id (`aud_…`).")]
CalendarQuery = Annotated[
    str, Query(max_length=16, description="`FR`, or a subdivision such as `FR-57`.")
]


def visible_audit(audit_id: AuditIdPath, client: VisibleClientDep, session: SessionDep) -> Audit:
    return service.get_audit(session, client, audit_id)


def staff_audit(audit_id: AuditIdPath, client: StaffClientDep, session: SessionDep) -> Audit:
    return service.get_audit(session, client, audit_id)


AuditDep = Annotated[Audit, Depends(visible_audit)]
StaffAuditDep = Annotated[Audit, Depends(staff_audit)]


async def known_calendar(calendar: CalendarQuery = "FR") -> str:
    """The calendar code, if the holidays package knows it; otherwise 422 listing those it does."""
    if workdays.is_supported(calendar):
        return calendar
    country = calendar.split("-")[0].upper()
    subdivisions = sorted(c for c in workdays.supported_calendars() if c.startswith(f"{country}-"))
    raise RuleViolation(
        "unknown-calendar",
        f"Unknown holiday calendar {calendar!r}. Use a country code, or COUNTRY-SUBDIVISION as "
        "the holidays package names them.",
        supported_countries=workdays.country_codes(),
        supported_subdivisions=subdivisions or None,
        errors=field_errors("query.calendar", "unknown calendar"),
    )


CalendarDep = Annotated[str, Depends(known_calendar)]
