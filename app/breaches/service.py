"""Breach rules (seed §2.6, GDPR Art. 33). Plain functions taking a session and a clock."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement
from sqlmodel import Session, col, select

from app.auth.principal import Principal, acting_for, load, scoped
from app.breaches import deadlines
from app.breaches.models import Breach, BreachNotice, BreachUpdate
from app.breaches.schemas import (
    Art33Content,
    BreachCreate,
    BreachPublic,
    BreachReport,
    BreachStatus,
    BreachUpdateCreate,
    NoticePublic,
    TimelineEntry,
)
from app.clients import service as clients_service
from app.clock import Clock
from app.errors import Conflict, Forbidden, NotFound, RuleViolation, field_errors
from app.events import service as events
from app.events import timers
from app.events.timers import TimerKind
from app.ids import new_id
from app.notices import service as notices
from app.notices.models import Notice
from app.pagination import PageParams, paginate
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
    for client_id in data.client_ids:
        _notify(session, clock, settings, breach, client_id)
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
    events.emit(session, clock, "breach.reported", breach.id, _report(breach), client_id=None)
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


def _content(breach: Breach) -> dict[str, Any]:
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


def _report(breach: Breach, **extra: Any) -> dict[str, Any]:
    """What SCR staff are told of a client's report."""
    return {
        **_content(breach),
        "reported_by_client_id": breach.reported_by_client_id,
        "notify_deadline": deadlines.notify_deadline(breach.aware_at).isoformat(),
        **extra,
    }


def _notify(
    session: Session, clock: Clock, settings: Settings, breach: Breach, client_id: str
) -> BreachNotice:
    now = clock.now()
    notice = BreachNotice(
        id=new_id("bcn"),
        breach_id=breach.id,
        client_id=client_id,
        notify_deadline=deadlines.notify_deadline(breach.aware_at),
        created_at=now,
    )
    session.add(notice)
    _tell(session, clock, settings, breach, notice, "breach.notified", _message(breach, notice))
    for due_at in deadlines.reminder_times(breach.aware_at, settings.breach_reminder_hours, now):
        timers.schedule(
            session, clock, kind=REMINDER, subject=notice.id, due_at=due_at, client_id=client_id
        )
    # A deadline already past (aware_at more than 72 h ago) fires at once.
    timers.schedule(
        session,
        clock,
        kind=DEADLINE,
        subject=notice.id,
        due_at=notice.notify_deadline,
        client_id=client_id,
    )
    return notice


def _tell(
    session: Session,
    clock: Clock,
    settings: Settings,
    breach: Breach,
    notice: BreachNotice,
    event_type: str,
    data: dict[str, Any],
) -> Notice:
    """Every breach message to a client is a notice: escalated to staff and e-mailed when no
    endpoint of the client answers 2xx within the escalation delay (SPEC §8.1, §8.4)."""
    return notices.send(
        session,
        clock,
        kind=NOTICE_KIND,
        subject=notice.id,
        client_id=notice.client_id,
        event_type=event_type,
        event_subject=breach.id,
        data=data,
        escalate_after=timedelta(minutes=settings.breach_escalation_minutes),
        escalation_type="breach.escalated",
    )


def _message(breach: Breach, notice: BreachNotice, **extra: Any) -> dict[str, Any]:
    """What a client is told: the breach and its own part, never another client's."""
    return {
        **_content(breach),
        "client_id": notice.client_id,
        "notify_deadline": notice.notify_deadline.isoformat(),
        **extra,
    }


# --- reading ---------------------------------------------------------------------------


def _notices(session: Session, breach_id: str) -> list[BreachNotice]:
    return list(
        session.exec(
            select(BreachNotice)
            .where(BreachNotice.breach_id == breach_id)
            .order_by(col(BreachNotice.client_id))
        )
    )


def _concerns(client_id: str) -> ColumnElement[bool]:
    """A client's own breaches: those it was notified of, and those it reported."""
    notified = select(BreachNotice.breach_id).where(BreachNotice.client_id == client_id)
    return col(Breach.id).in_(notified) | (col(Breach.reported_by_client_id) == client_id)


def get_breach(session: Session, principal: Principal, breach_id: str) -> Breach:
    return load(session, principal, Breach, breach_id, _concerns, "breach")


def view(session: Session, clock: Clock, principal: Principal, breach: Breach) -> BreachPublic:
    now = clock.now()
    event_deadline = deadlines.event_deadline(breach.occurred_at)
    parts = [n for n in _notices(session, breach.id) if principal.can_see_client(n.client_id)]
    sent = notices.of_subjects(session, [part.id for part in parts])
    return BreachPublic(
        **Art33Content.model_validate(breach, from_attributes=True).model_dump(),
        id=breach.id,
        aware_at=breach.aware_at,
        occurred_at=breach.occurred_at,
        nature=breach.nature,
        description=breach.description,
        status=BreachStatus(breach.status),
        contact_point=breach.contact_point,
        created_at=breach.created_at,
        updated_at=breach.updated_at,
        closed_at=breach.closed_at,
        reported_by_client_id=breach.reported_by_client_id,
        staff_acknowledged_at=breach.staff_acknowledged_at,
        event_deadline=event_deadline,
        notices=[_notice_view(part, sent[part.id], event_deadline, now) for part in parts],
    )


def _notice_view(
    notice: BreachNotice, sent: list[Notice], event_deadline: datetime | None, now: datetime
) -> NoticePublic:
    escalations = [n.escalated_at for n in sent if n.escalated_at is not None]
    return NoticePublic(
        client_id=notice.client_id,
        state="notified" if notice.notified_at else "pending",
        notify_deadline=notice.notify_deadline,
        seconds_to_notify_deadline=deadlines.seconds_left(notice.notify_deadline, now),
        notified_at=notice.notified_at,
        notified_via=next(
            (n.notified_via for n in sent if n.notified_at == notice.notified_at), None
        ),
        controller_deadline=(
            deadlines.controller_deadline(notice.notified_at) if notice.notified_at else None
        ),
        late_against_event=_late_against_event(notice, event_deadline),
        acknowledged_at=notice.acknowledged_at,
        escalated_at=min(escalations) if escalations else None,
        deadline_missed_at=notice.deadline_missed_at,
        delay_reason=notice.delay_reason,
    )


def _late_against_event(notice: BreachNotice, event_deadline: datetime | None) -> bool:
    """Seed §2.6 counts 72 hours "following the event": a notice that reached the client after
    occurred_at + 72 h is late against the contract, even when it met the Art. 33 deadline."""
    return (
        event_deadline is not None
        and notice.notified_at is not None
        and notice.notified_at > event_deadline
    )


def list_breaches(
    session: Session, principal: Principal, params: PageParams, status: BreachStatus | None
):
    statement = scoped(select(Breach), principal, _concerns)
    if status is not None:
        statement = statement.where(Breach.status == status.value)
    return paginate(session, statement, Breach, params)


def timeline(session: Session, principal: Principal, breach: Breach) -> list[TimelineEntry]:
    found, deliveries, attempts, emails = events.about(session, principal, breach.id)
    by_id = {event.id: event for event in found}
    entries = (
        [
            TimelineEntry(
                at=e.created_at,
                kind="event",
                event_id=e.id,
                event_type=e.type,
                client_id=e.client_id,
            )
            for e in found
        ]
        + [
            TimelineEntry(
                at=d.created_at,
                kind="delivery",
                event_id=d.event_id,
                event_type=by_id[d.event_id].type,
                client_id=by_id[d.event_id].client_id,
                endpoint_id=d.endpoint_id,
                outcome=d.status,
            )
            for d in deliveries
        ]
        + [
            TimelineEntry(
                at=a.attempted_at,
                kind="attempt",
                event_id=a.event_id,
                event_type=by_id[a.event_id].type,
                client_id=by_id[a.event_id].client_id,
                endpoint_id=a.endpoint_id,
                outcome=a.outcome,
                status_code=a.status_code,
                error=a.error,
            )
            for a in attempts
        ]
        + [
            TimelineEntry(
                at=m.attempted_at,
                kind="email",
                event_id=m.id,
                event_type="email",
                client_id=m.client_id,
                outcome=m.outcome,
                error=m.error,
            )
            for m in emails
        ]
    )
    order = {"event": 0, "delivery": 1, "attempt": 2, "email": 3}
    return sorted(entries, key=lambda entry: (entry.at, order[entry.kind]))


# --- changes ---------------------------------------------------------------------------


def _require_open(breach: Breach) -> None:
    if breach.status == BreachStatus.closed:
        raise Conflict(f"Breach {breach.id} is closed.")


def acknowledge(
    session: Session, clock: Clock, principal: Principal, breach: Breach, client_id: str | None
) -> Breach:
    """The client confirms it has the notice: reminders stop, SCR staff are told. For a breach
    a client reported, SCR staff acknowledge it and the client is told."""
    if breach.reported_by_client_id is not None:
        return _staff_acknowledge(session, clock, principal, breach)
    target = acting_for(principal, client_id)
    notice = session.exec(
        select(BreachNotice).where(
            BreachNotice.breach_id == breach.id, BreachNotice.client_id == target
        )
    ).first()
    if notice is None:
        raise NotFound("breach notice for client", str(target))
    acknowledge_part(session, clock, breach, notice, by=principal.key_id)
    return breach


def acknowledge_part(
    session: Session,
    clock: Clock,
    breach: Breach,
    notice: BreachNotice,
    *,
    by: str,
    contact_email: str | None = None,
) -> None:
    """The client has the notice (through its key, or a contact's e-mailed link)."""
    if notice.acknowledged_at is not None:
        raise Conflict(f"Already acknowledged at {notice.acknowledged_at.isoformat()}.")
    now = clock.now()
    notice.acknowledged_at, notice.acknowledged_by = now, by
    session.add(notice)
    timers.cancel(session, clock, subject=notice.id, kinds=[REMINDER])
    # An acknowledgement proves receipt: a notice no channel had got through yet is notified
    # now, and its deadline and escalation stop (SPEC §8.4).
    notices.acknowledge(session, clock, subject=notice.id, client_id=notice.client_id, by=by)
    data = {
        "breach_id": breach.id,
        "client_id": notice.client_id,
        "acknowledged_at": now.isoformat(),
    }
    if contact_email is not None:
        data["acknowledged_by_contact"] = contact_email
    events.emit(session, clock, "breach.acknowledged", breach.id, data, client_id=None)
    session.flush()


@notices.on_answer(NOTICE_KIND, actions=("acknowledge",))
def answer_by_link(
    session: Session, clock: Clock, sent: Notice, answer: notices.ContactAnswer
) -> None:
    notice = session.get(BreachNotice, sent.subject)
    breach = session.get(Breach, notice.breach_id) if notice else None
    if notice is None or breach is None:
        raise NotFound("breach notice", sent.subject)
    acknowledge_part(
        session, clock, breach, notice, by=answer.link_id, contact_email=answer.contact_email
    )


def _staff_acknowledge(
    session: Session, clock: Clock, principal: Principal, breach: Breach
) -> Breach:
    if not principal.is_staff:
        raise Forbidden("A breach a client reported is acknowledged by SCR staff.")
    if breach.staff_acknowledged_at is not None:
        raise Conflict(f"Already acknowledged at {breach.staff_acknowledged_at.isoformat()}.")
    now = clock.now()
    breach.staff_acknowledged_at, breach.staff_acknowledged_by = now, principal.key_id
    session.add(breach)
    timers.cancel(session, clock, subject=breach.id, kinds=[STAFF_REMINDER])
    events.emit(
        session,
        clock,
        "breach.acknowledged",
        breach.id,
        {
            "breach_id": breach.id,
            "client_id": breach.reported_by_client_id,
            "acknowledged_at": now.isoformat(),
            "acknowledged_by": "SCR",
        },
        client_id=breach.reported_by_client_id,
    )
    session.flush()
    return breach


def add_update(
    session: Session,
    clock: Clock,
    settings: Settings,
    principal: Principal,
    breach: Breach,
    data: BreachUpdateCreate,
) -> Breach:
    """Art. 33(4): information in phases. Every affected client gets breach.updated."""
    _require_open(breach)
    changes = data.model_dump(mode="json", exclude_unset=True, exclude={"note"})
    if not changes and not data.note:
        raise RuleViolation("breach-update-empty", "An update needs a changed field or a note.")
    now = clock.now()
    for name, value in changes.items():
        setattr(breach, name, value)
    breach.updated_at = now
    session.add(breach)
    session.add(
        BreachUpdate(
            id=new_id("bup"),
            breach_id=breach.id,
            changes=changes,
            note=data.note,
            created_by=principal.key_id,
            created_at=now,
        )
    )
    session.flush()
    for notice in _notices(session, breach.id):
        message = _message(breach, notice, changes=changes, note=data.note)
        _tell(session, clock, settings, breach, notice, "breach.updated", message)
    return breach


def record_delay_reason(
    session: Session, clock: Clock, breach: Breach, client_id: str, reason: str
) -> Breach:
    notice = session.exec(
        select(BreachNotice).where(
            BreachNotice.breach_id == breach.id, BreachNotice.client_id == client_id
        )
    ).first()
    if notice is None:
        raise NotFound("breach notice for client", client_id)
    notice.delay_reason = reason
    session.add(notice)
    session.flush()
    return breach


def close(session: Session, clock: Clock, breach: Breach) -> Breach:
    """Closing needs a recorded reason for every missed deadline (the CNIL asks for it)."""
    _require_open(breach)
    parts = _notices(session, breach.id)
    event_deadline = deadlines.event_deadline(breach.occurred_at)
    missing = [
        n.client_id
        for n in parts
        if (n.deadline_missed_at or _late_against_event(n, event_deadline)) and not n.delay_reason
    ]
    if missing:
        raise RuleViolation(
            "breach-delay-reason",
            "The 72 hours (from awareness, or from the event when occurred_at is known) were "
            "missed for some clients; record the reason for the delay (POST …/delay-reasons) "
            "before closing.",
            clients_without_reason=missing,
        )
    now = clock.now()
    breach.status, breach.closed_at, breach.updated_at = BreachStatus.closed.value, now, now
    session.add(breach)
    timers.cancel(session, clock, subject=breach.id)
    if breach.reported_by_client_id is not None:
        events.emit(
            session,
            clock,
            "breach.closed",
            breach.id,
            _report(breach, closed_at=now.isoformat()),
            client_id=breach.reported_by_client_id,
        )
    for notice in parts:
        timers.cancel(session, clock, subject=notice.id)
        notices.cancel(session, clock, subject=notice.id)
        events.emit(
            session,
            clock,
            "breach.closed",
            breach.id,
            _message(breach, notice, closed_at=now.isoformat()),
            client_id=notice.client_id,
        )
    session.flush()
    return breach


# --- timers and delivery (registered in flows.py) ----------------------------------------


def _notice_and_breach(session: Session, notice_id: str) -> tuple[BreachNotice, Breach] | None:
    notice = session.get(BreachNotice, notice_id)
    breach = session.get(Breach, notice.breach_id) if notice else None
    return (notice, breach) if notice and breach else None


def on_reminder(
    session: Session, clock: Clock, settings: Settings, subject: str, due_at: datetime
) -> None:
    found = _notice_and_breach(session, subject)
    if found is None:
        return
    notice, breach = found
    if notice.acknowledged_at or breach.status == BreachStatus.closed:
        return  # no longer relevant: it does not fire
    hours = round((due_at - breach.aware_at).total_seconds() / 3600)
    message = _message(breach, notice, reminder_hours_after_aware=hours)
    _tell(session, clock, settings, breach, notice, "breach.reminder", message)


def on_staff_reminder(session: Session, clock: Clock, breach_id: str, due_at: datetime) -> None:
    breach = session.get(Breach, breach_id)
    if breach is None or breach.staff_acknowledged_at or breach.status == BreachStatus.closed:
        return
    hours = round((due_at - breach.aware_at).total_seconds() / 3600)
    events.emit(
        session,
        clock,
        "breach.reminder",
        breach.id,
        _report(breach, reminder_hours_after_aware=hours),
        client_id=None,
    )


def on_deadline(session: Session, clock: Clock, subject: str) -> None:
    found = _notice_and_breach(session, subject)
    if found is None:
        return
    notice, breach = found
    if notice.notified_at is not None and notice.notified_at <= notice.notify_deadline:
        return
    notice.deadline_missed_at = clock.now()
    session.add(notice)
    data = {
        "breach_id": breach.id,
        "client_id": notice.client_id,
        "notify_deadline": notice.notify_deadline.isoformat(),
        "aware_at": breach.aware_at.isoformat(),
    }
    events.emit(session, clock, "breach.deadline_missed", breach.id, data, client_id=None)
    events.emit(
        session, clock, "breach.deadline_missed", breach.id, data, client_id=notice.client_id
    )


@notices.on_notified(NOTICE_KIND)
def on_notified(session: Session, clock: Clock, sent: Notice) -> None:
    """One of the client's breach messages reached it (each carries the whole Art. 33(3)
    content): the first sets notified_at, and the deadline timer stops. Reminders go on until
    the client acknowledges."""
    notice = session.get(BreachNotice, sent.subject)
    if notice is None or notice.notified_at is not None:
        return
    assert sent.notified_at is not None
    notice.notified_at = sent.notified_at
    session.add(notice)
    timers.cancel(session, clock, subject=notice.id, kinds=[DEADLINE])


def concerns_client(session: Session, breach_id: str, client_id: str) -> bool:
    """Whether a breach touches this client's data (it was notified of it, or reported it)."""
    found = select(Breach.id).where(Breach.id == breach_id, _concerns(client_id))
    return session.exec(found).first() is not None
