"""Data-subject requests (seed §2.5): ordered by the client with a due date, reminded to SCR
staff three days and one day before, overdue told to both sides once, completed with evidence."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlmodel import Session, select

from app.auth.principal import Principal, of_client
from app.clients.models import Client
from app.clock import Clock
from app.errors import Conflict, RuleViolation, field_errors
from app.events import service as events
from app.events import timers
from app.events.timers import TimerKind
from app.ids import new_id
from app.pagination import PageParams, Rows, paginate
from app.subject_requests.models import DataSubjectRequest
from app.subject_requests.schemas import DsrCreate, DsrStatus

REMINDER, OVERDUE = TimerKind.dsr_reminder, TimerKind.dsr_overdue
REMINDERS_BEFORE = (timedelta(days=3), timedelta(days=1))


def order(
    session: Session, clock: Clock, principal: Principal, client: Client, data: DsrCreate
) -> DataSubjectRequest:
    now = clock.now()
    if data.due_at <= now:
        raise RuleViolation(
            "dsr-due-in-future",
            "due_at must be in the future.",
            errors=field_errors("body.due_at", "not in the future"),
        )
    request = DataSubjectRequest(
        id=new_id("dsr"),
        client_id=client.id,
        status=DsrStatus.open.value,
        created_by=principal.key_id,
        created_at=now,
        **data.model_dump(),
    )
    session.add(request)
    session.flush()
    events.emit(
        session,
        clock,
        "data_subject_request.received",
        request.id,
        message(request),
        client_id=None,
    )
    timers.schedule(
        session,
        clock,
        kind=OVERDUE,
        subject=request.id,
        due_at=request.due_at,
        client_id=client.id,
    )
    for before in REMINDERS_BEFORE:
        if request.due_at - before > now:
            timers.schedule(
                session,
                clock,
                kind=REMINDER,
                subject=request.id,
                due_at=request.due_at - before,
                client_id=client.id,
            )
    return request


def message(request: DataSubjectRequest, **extra: Any) -> dict[str, Any]:
    return {
        "data_subject_request_id": request.id,
        "client_id": request.client_id,
        "kind": request.kind,
        "subject_ref": request.subject_ref,
        "due_at": request.due_at.isoformat(),
        "status": request.status,
        **extra,
    }


def complete(
    session: Session, clock: Clock, request: DataSubjectRequest, evidence: str
) -> DataSubjectRequest:
    if request.status != DsrStatus.open:
        raise Conflict(f"Data-subject request {request.id} is {request.status}.")
    request.status, request.completed_at = DsrStatus.completed.value, clock.now()
    request.completion_evidence = evidence
    session.add(request)
    timers.cancel(session, clock, subject=request.id)
    events.emit(
        session,
        clock,
        "data_subject_request.completed",
        request.id,
        message(request, evidence=evidence),
        client_id=request.client_id,
    )
    session.flush()
    return request


def on_reminder(session: Session, clock: Clock, request_id: str) -> None:
    _tell_both(session, clock, request_id, "data_subject_request.reminder")


def on_overdue(session: Session, clock: Clock, request_id: str) -> None:
    """Seed §2.5: the client ordered it by a date; past it, both sides are told, once."""
    _tell_both(session, clock, request_id, "data_subject_request.overdue")


def _tell_both(session: Session, clock: Clock, request_id: str, event_type: str) -> None:
    """The client and SCR staff, while the request is still open."""
    request = session.get(DataSubjectRequest, request_id)
    if request is None or request.status != DsrStatus.open:
        return
    for audience in (request.client_id, None):
        events.emit(session, clock, event_type, request.id, message(request), client_id=audience)


def get(session: Session, client: Client, request_id: str) -> DataSubjectRequest:
    return of_client(session, DataSubjectRequest, request_id, client.id, "data-subject request")


def list_for(session: Session, client: Client, params: PageParams) -> Rows[DataSubjectRequest]:
    statement = select(DataSubjectRequest).where(DataSubjectRequest.client_id == client.id)
    return paginate(session, statement, DataSubjectRequest, params)
