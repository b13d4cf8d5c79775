"""Disclosure requests from authorities (seed §2.5): SCR tells the client at once of any
legally binding request for its data, unless the law or a decision forbids it; a held request
is released the moment the prohibition is lifted."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlmodel import Session, col, select

from app.auth.principal import Principal
from app.breaches.models import DisclosureRequest
from app.breaches.schemas import DisclosureCreate, DisclosureStatus
from app.clock import Clock
from app.errors import Conflict, NotFound, RuleViolation, field_errors
from app.ids import new_id
from app.notices import service as notices
from app.notices.models import Notice
from app.pagination import PageParams, Rows, paginate
from app.settings import Settings

NOTICE_KIND = "disclosure_request"
HELD = DisclosureStatus.held.value
PENDING = DisclosureStatus.pending.value
NOTIFIED = DisclosureStatus.notified.value


def create(
    session: Session,
    clock: Clock,
    settings: Settings,
    principal: Principal,
    client_id: str,
    data: DisclosureCreate,
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
        status=HELD if data.notification_prohibited else PENDING,
        created_by=principal.key_id,
        created_at=now,
        **data.model_dump(),
    )
    session.add(request)
    session.flush()
    if not data.notification_prohibited:
        _tell(session, clock, settings, request)
    return request


def _tell(session: Session, clock: Clock, settings: Settings, request: DisclosureRequest) -> None:
    """The client must be told at once (seed §2.5): a notice, `pending` until it arrives,
    escalated to staff and e-mailed like a breach notice when no endpoint answers."""
    notices.send(
        session,
        clock,
        kind=NOTICE_KIND,
        subject=request.id,
        client_id=request.client_id,
        event_type="disclosure_request.received",
        event_subject=request.id,
        data=_message(request),
        escalate_after=timedelta(minutes=settings.breach_escalation_minutes),
    )


@notices.on_notified(NOTICE_KIND)
def on_notified(session: Session, clock: Clock, sent: list[notices.Arrival]) -> None:
    for notice in sent:
        request = session.get(DisclosureRequest, notice.subject)
        if request is not None and request.notified_at is None:
            request.notified_at, request.status = notice.notified_at, NOTIFIED
            session.add(request)


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
    session: Session, clock: Clock, settings: Settings, request: DisclosureRequest
) -> DisclosureRequest:
    if request.status != HELD:
        raise Conflict(f"Disclosure request {request.id} is not held; the client was told.")
    request.prohibition_lifted_at = clock.now()
    request.status = PENDING
    _tell(session, clock, settings, request)
    session.flush()
    return request


def acknowledge(
    session: Session, clock: Clock, principal: Principal, request: DisclosureRequest
) -> DisclosureRequest:
    """The client confirms it has been told: that proves receipt (SPEC §8.4)."""
    return _acknowledge(session, clock, request, principal.key_id)


def _acknowledge(
    session: Session, clock: Clock, request: DisclosureRequest, by: str
) -> DisclosureRequest:
    if request.status == HELD:
        raise NotFound("disclosure request", request.id)
    acknowledged = notices.acknowledge(
        session, clock, subject=request.id, client_id=request.client_id, by=by
    )
    if not acknowledged:
        raise Conflict(f"Disclosure request {request.id} was already acknowledged.")
    session.flush()
    return request


@notices.on_answer(NOTICE_KIND, actions=("acknowledge",))
def answer_by_link(
    session: Session, clock: Clock, sent: Notice, answer: notices.ContactAnswer
) -> None:
    request = session.get(DisclosureRequest, sent.subject)
    if request is None:
        raise NotFound("disclosure request", sent.subject)
    _acknowledge(session, clock, request, answer.link_id)


def get(
    session: Session, principal: Principal, client_id: str, request_id: str
) -> DisclosureRequest:
    """A client sees its requests once released, never while held (the law forbids telling)."""
    request = session.get(DisclosureRequest, request_id)
    if (
        request is None
        or request.client_id != client_id
        or (not principal.is_staff and request.status == HELD)
    ):
        raise NotFound("disclosure request", request_id)
    return request


def list_for(
    session: Session, principal: Principal, client_id: str, params: PageParams
) -> Rows[DisclosureRequest]:
    statement = select(DisclosureRequest).where(DisclosureRequest.client_id == client_id)
    if not principal.is_staff:
        statement = statement.where(col(DisclosureRequest.status) != HELD)
    return paginate(session, statement, DisclosureRequest, params)
