"""Recording a breach and telling the clients it touches (seed §2.6, GDPR Art. 33): the
fan-out, the timers it starts, and the messages' content. Every message to a client is a notice
(app/notices): escalated and e-mailed when no endpoint answers."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from app.auth.principal import Principal
from app.breaches import deadlines
from app.breaches.models import Breach, BreachNotice
from app.breaches.schemas import Art33Content, BreachCreate, BreachReport
from app.clients import service as clients_service
from app.clock import Clock
from app.db import insert_rows
from app.errors import RuleViolation, field_errors
from app.events import service as events
from app.events import timers
from app.events.timers import TimerKind
from app.ids import new_id
from app.notices import service as notices
from app.settings import Settings

REMINDER, DEADLINE = TimerKind.breach_reminder, TimerKind.breach_deadline
STAFF_REMINDER = TimerKind.breach_staff_reminder
NOTICE_KIND = "breach"


def create_breach(
    session: Session, clock: Clock, settings: Settings, principal: Principal, data: BreachCreate
) -> Breach:
    """Record the breach and notify every affected client at once: no draft stage (§2.6)."""
    _check_times(clock, data)
    unknown = clients_service.unknown_clients(session, data.client_ids)
    if unknown:
        raise RuleViolation(
            "breach-affected-clients",
            f"No client with id {unknown[0]!r}; client_ids must name registered clients.",
            errors=field_errors("body.client_ids", f"unknown client {unknown[0]}"),
        )
    breach = _new_breach(session, clock, principal, data)
    _notify(session, clock, settings, breach, data.client_ids)
    return breach


def report_breach(
    session: Session,
    clock: Clock,
    settings: Settings,
    principal: Principal,
    client_id: str,
    data: BreachReport,
) -> Breach:
    """Client → SCR (seed §2.6 binds both ways): SCR staff get breach.reported now, then
    reminders until a staff key acknowledges."""
    _check_times(clock, data)
    breach = _new_breach(session, clock, principal, data, reported_by_client_id=client_id)
    events.emit(session, clock, "breach.reported", breach.id, staff_message(breach), client_id=None)
    for due_at in deadlines.reminder_times(
        breach.aware_at, settings.breach_reminder_hours, clock.now()
    ):
        timers.schedule(session, clock, kind=STAFF_REMINDER, subject=breach.id, due_at=due_at)
    return breach


def _check_times(clock: Clock, data: BreachReport) -> None:
    now = clock.now()
    for name in ("aware_at", "occurred_at"):
        moment = getattr(data, name)
        if moment is not None and moment > now:
            raise RuleViolation(
                "breach-time-in-past",
                f"{name} cannot be in the future (now is {now.isoformat()}).",
                errors=field_errors(f"body.{name}", "in the future"),
            )


def _new_breach(
    session: Session,
    clock: Clock,
    principal: Principal,
    data: BreachReport,
    reported_by_client_id: str | None = None,
) -> Breach:
    now = clock.now()
    breach = Breach(
        id=new_id("brc"),
        created_by=principal.key_id,
        created_at=now,
        updated_at=now,
        reported_by_client_id=reported_by_client_id,
        **data.model_dump(mode="json", exclude={"client_ids", "aware_at", "occurred_at"}),
        aware_at=data.aware_at,
        occurred_at=data.occurred_at,
    )
    session.add(breach)
    session.flush()
    return breach


def content(breach: Breach) -> dict[str, Any]:
    """The breach as a notice describes it (Art. 33(3)), without anyone's client id."""
    return {
        "breach_id": breach.id,
        "status": breach.status,
        "nature": breach.nature,
        "description": breach.description,
        "aware_at": breach.aware_at.isoformat(),
        "occurred_at": breach.occurred_at.isoformat() if breach.occurred_at else None,
        "contact_point": breach.contact_point,
        **Art33Content.model_validate(breach, from_attributes=True).model_dump(mode="json"),
    }


def staff_message(breach: Breach, **extra: Any) -> dict[str, Any]:
    """What SCR staff are told of a client's report."""
    return {
        **content(breach),
        "reported_by_client_id": breach.reported_by_client_id,
        "notify_deadline": deadlines.notify_deadline(breach.aware_at).isoformat(),
        **extra,
    }


def _notify(
    session: Session, clock: Clock, settings: Settings, breach: Breach, client_ids: list[str]
) -> None:
    """Each client's part of the breach, its notice, its reminders and its 72-hour deadline,
    written for all clients at once (multi-row inserts: a breach may touch thousands)."""
    now = clock.now()
    deadline = deadlines.notify_deadline(breach.aware_at)
    rows: list[dict[str, Any]] = [
        {
            "id": new_id("bcn"),
            "breach_id": breach.id,
            "client_id": client_id,
            "notify_deadline": deadline,
            "created_at": now,
        }
        for client_id in client_ids
    ]
    insert_rows(session, BreachNotice, rows)
    base = content(breach)
    tell_many(
        session,
        clock,
        settings,
        breach,
        "breach.notified",
        [
            notices.Part(row["id"], row["client_id"], for_client(base, row["client_id"], deadline))
            for row in rows
        ],
    )
    reminders = deadlines.reminder_times(breach.aware_at, settings.breach_reminder_hours, now)
    timers.schedule_many(
        session,
        [
            timers.row(now, kind, row["id"], due_at, row["client_id"])
            for row in rows
            # A deadline already past (aware_at more than 72 h ago) fires at once.
            for kind, due_at in [*((REMINDER, at) for at in reminders), (DEADLINE, deadline)]
        ],
    )


def tell(
    session: Session,
    clock: Clock,
    settings: Settings,
    breach: Breach,
    notice: BreachNotice,
    event_type: str,
    data: dict[str, Any],
) -> None:
    """Every breach message to a client is a notice: escalated to staff and e-mailed when no
    endpoint of the client answers 2xx within the escalation delay (SPEC §8.1, §8.4)."""
    tell_many(
        session,
        clock,
        settings,
        breach,
        event_type,
        [notices.Part(notice.id, notice.client_id, data)],
    )


def tell_many(
    session: Session,
    clock: Clock,
    settings: Settings,
    breach: Breach,
    event_type: str,
    parts: list[notices.Part],
) -> None:
    """`tell` each client its message (a Part: its breach notice's id, its id, the message),
    in one fan-out."""
    notices.send_many(
        session,
        clock,
        kind=NOTICE_KIND,
        event_type=event_type,
        event_subject=breach.id,
        parts=parts,
        escalate_after=timedelta(minutes=settings.breach_escalation_minutes),
        escalation_type="breach.escalated",
    )


def client_message(breach: Breach, notice: BreachNotice, **extra: Any) -> dict[str, Any]:
    """What a client is told: the breach and its own part, never another client's."""
    return for_client(content(breach), notice.client_id, notice.notify_deadline, **extra)


def for_client(
    base: dict[str, Any], client_id: str, notify_deadline: datetime, **extra: Any
) -> dict[str, Any]:
    """A client's message from the breach's `content` (built once for a fan-out)."""
    return {
        **base,
        "client_id": client_id,
        "notify_deadline": notify_deadline.isoformat(),
        **extra,
    }
