"""Disclosure requests from authorities (seed §2.5): SCR tells the client at once of any
legally binding request for its data, unless the law or a decision forbids it; a held request
is released the moment the prohibition is lifted."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, select

from app.auth.service import Principal
from app.breaches.models import DisclosureRequest
from app.breaches.schemas import DisclosureCreate
from app.clock import Clock
from app.errors import Conflict, NotFound, RuleViolation, field_errors
from app.events import service as events
from app.ids import new_id
from app.pagination import PageParams, paginate


def create(
    session: Session, clock: Clock, principal: Principal, client_id: str, data: DisclosureCreate
) -> DisclosureRequest:
    now = clock.now()
    if data.received_at > now:
        raise RuleViolation(
            "disclosure-received-in-past",
            f"received_at cannot be in the future (now is {now.isoformat()}).",
            errors=field_errors("body.received_at", "in the future"),
        )
    request = DisclosureRequest(
        id=new_id("dis"),
        client_id=client_id,
        status="held" if data.notification_prohibited else "notified",
        created_by=principal.key_id,
        created_at=now,
        **data.model_dump(),
    )
    session.add(request)
    session.flush()
    if not data.notification_prohibited:
        _tell(session, clock, request)
    return request


def _tell(session: Session, clock: Clock, request: DisclosureRequest) -> None:
    request.notified_at = clock.now()
    session.add(request)
    events.emit(
        session,
        clock,
        "disclosure_request.received",
        request.id,
        _message(request),
        client_id=request.client_id,
    )


def _message(request: DisclosureRequest) -> dict[str, Any]:
    return {
        "disclosure_request_id": request.id,
        "client_id": request.client_id,
        "authority": request.authority,
        "reference": request.reference,
        "received_at": request.received_at.isoformat(),
        "legally_binding": request.legally_binding,
        "data_requested": request.data_requested,
    }


def lift_prohibition(
    session: Session, clock: Clock, request: DisclosureRequest
) -> DisclosureRequest:
    if request.status != "held":
        raise Conflict(f"Disclosure request {request.id} is not held; the client was told.")
    request.prohibition_lifted_at = clock.now()
    request.status = "notified"
    _tell(session, clock, request)
    session.flush()
    return request


def get(session: Session, client_id: str, request_id: str) -> DisclosureRequest:
    request = session.get(DisclosureRequest, request_id)
    if request is None or request.client_id != client_id:
        raise NotFound("disclosure request", request_id)
    return request


def list_for(session: Session, client_id: str, params: PageParams):
    statement = select(DisclosureRequest).where(DisclosureRequest.client_id == client_id)
    return paginate(session, statement, DisclosureRequest, params)
