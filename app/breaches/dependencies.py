"""Load-or-404 for breaches and disclosure requests: a client key sees only its own."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path

from app.auth.dependencies import PrincipalDep, StaffDep
from app.breaches import disclosures, views
from app.breaches.models import Breach, DisclosureRequest
from app.clients.dependencies import StaffClientDep, VisibleClientDep
from app.db import SessionDep

BreachIdPath = Annotated[str, Path(max_length=40, description="A breach id (`brc_…`).")]
DisclosureIdPath = Annotated[str, Path(max_length=40, description="A request id (`dis_…`).")]


def visible_breach(breach_id: BreachIdPath, principal: PrincipalDep, session: SessionDep) -> Breach:
    return views.get_breach(session, principal, breach_id)


BreachDep = Annotated[Breach, Depends(visible_breach)]


async def staff_breach(breach: BreachDep, _staff: StaffDep) -> Breach:
    return breach


StaffBreachDep = Annotated[Breach, Depends(staff_breach)]


def visible_disclosure(
    disclosure_id: DisclosureIdPath,
    client: VisibleClientDep,
    principal: PrincipalDep,
    session: SessionDep,
) -> DisclosureRequest:
    """A client sees its requests once released, never while held."""
    return disclosures.get(session, principal, client.id, disclosure_id)


def staff_disclosure(
    disclosure_id: DisclosureIdPath,
    client: StaffClientDep,
    principal: PrincipalDep,
    session: SessionDep,
) -> DisclosureRequest:
    return disclosures.get(session, principal, client.id, disclosure_id)


DisclosureDep = Annotated[DisclosureRequest, Depends(visible_disclosure)]
StaffDisclosureDep = Annotated[DisclosureRequest, Depends(staff_disclosure)]
