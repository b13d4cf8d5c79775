"""Security exceptions (seed §2.3): the client asks in writing, SCR staff decide, and both sides
are told a day before the exception ends and when it has ended."""

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
from app.security_exceptions.models import SecurityException
from app.security_exceptions.schemas import ExceptionCreate, ExceptionStatus

ENDING, ENDED = TimerKind.exception_ending, TimerKind.exception_end
ENDING_NOTICE = timedelta(hours=24)


def request(
    session: Session, clock: Clock, principal: Principal, client: Client, data: ExceptionCreate
) -> SecurityException:
    if data.ends_at <= data.starts_at:
        raise RuleViolation(
            "exception-period",
            "ends_at must come after starts_at.",
            errors=field_errors("body.ends_at", "not after starts_at"),
        )
    now = clock.now()
    exception = SecurityException(
        id=new_id("sex"),
        client_id=client.id,
        status=ExceptionStatus.requested.value,
        created_by=principal.key_id,
        created_at=now,
        **data.model_dump(),
    )
    session.add(exception)
    session.flush()
    events.emit(
        session,
        clock,
        "security_exception.requested",
        exception.id,
        message(exception),
        client_id=None,
    )
    return exception


def message(exception: SecurityException, **extra: Any) -> dict[str, Any]:
    return {
        "security_exception_id": exception.id,
        "client_id": exception.client_id,
        "status": exception.status,
        "nature": exception.nature,
        "starts_at": exception.starts_at.isoformat(),
        "ends_at": exception.ends_at.isoformat(),
        **extra,
    }


def decide(
    session: Session, clock: Clock, exception: SecurityException, approve: bool, reason: str | None
) -> SecurityException:
    if exception.status != ExceptionStatus.requested:
        raise Conflict(f"Security exception {exception.id} is {exception.status}.")
    now = clock.now()
    exception.status = (ExceptionStatus.approved if approve else ExceptionStatus.rejected).value
    exception.decided_at, exception.decision_reason = now, reason
    session.add(exception)
    session.flush()
    kind = "security_exception.approved" if approve else "security_exception.rejected"
    events.emit(
        session,
        clock,
        kind,
        exception.id,
        message(exception, reason=reason),
        client_id=exception.client_id,
    )
    if approve:
        ending = max(exception.ends_at - ENDING_NOTICE, now)
        timers.schedule(
            session,
            clock,
            kind=ENDING,
            subject=exception.id,
            due_at=ending,
            client_id=exception.client_id,
        )
        timers.schedule(
            session,
            clock,
            kind=ENDED,
            subject=exception.id,
            due_at=exception.ends_at,
            client_id=exception.client_id,
        )
    return exception


def on_timer(session: Session, clock: Clock, exception_id: str, ended: bool) -> None:
    exception = session.get(SecurityException, exception_id)
    if exception is None or exception.status != ExceptionStatus.approved:
        return
    if ended:
        exception.status = ExceptionStatus.ended.value
        session.add(exception)
    kind = "security_exception.ended" if ended else "security_exception.ending_soon"
    for audience in (exception.client_id, None):
        events.emit(session, clock, kind, exception.id, message(exception), client_id=audience)


def get(session: Session, client: Client, exception_id: str) -> SecurityException:
    return of_client(session, SecurityException, exception_id, client.id, "security exception")


def list_for(session: Session, client: Client, params: PageParams) -> Rows[SecurityException]:
    statement = select(SecurityException).where(SecurityException.client_id == client.id)
    return paginate(session, statement, SecurityException, params)
