"""Changes to a recorded breach: acknowledgements, updates in phases (Art. 33(4)), delay
reasons and closing. Recording and notifying are in notifying.py, reading in views.py."""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import Session, select

from app.auth.principal import Principal, acting_for
from app.breaches import deadlines
from app.breaches.models import Breach, BreachNotice, BreachUpdate
from app.breaches.notifying import (
    NOTICE_KIND,
    REMINDER,
    STAFF_REMINDER,
    client_message,
    content,
    for_client,
    staff_message,
    tell_many,
)
from app.breaches.schemas import BreachStatus, BreachUpdateCreate
from app.breaches.views import late_against_event, notices_of
from app.clock import Clock
from app.db import affected, table_of
from app.errors import Conflict, Forbidden, NotFound, RuleViolation
from app.events import service as events
from app.events import timers
from app.ids import new_id
from app.notices import service as notices
from app.notices.models import Notice
from app.settings import Settings

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
    now = clock.now()
    # Written only if no acknowledgement is there yet, as the database has it now: of two at
    # the same moment (each read the notice unacknowledged), the second finds the first's,
    # after waiting for its commit on PostgreSQL, behind SQLite's one writer, and gets the 409
    # instead of telling staff a second time.
    session.flush()
    table = table_of(BreachNotice)
    written = session.execute(
        update(table)
        .where(table.c.id == notice.id, table.c.acknowledged_at.is_(None))
        .values(acknowledged_at=now, acknowledged_by=by)
    )
    session.refresh(notice)
    if not affected(written):
        assert notice.acknowledged_at is not None
        raise Conflict(f"Already acknowledged at {notice.acknowledged_at.isoformat()}.")
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
    base = content(breach)
    parts = [
        notices.Part(
            notice.id,
            notice.client_id,
            for_client(
                base, notice.client_id, notice.notify_deadline, changes=changes, note=data.note
            ),
        )
        for notice in notices_of(session, breach.id)
    ]
    tell_many(session, clock, settings, breach, "breach.updated", parts)
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
    parts = notices_of(session, breach.id)
    event_deadline = deadlines.event_deadline(breach.occurred_at)
    missing = [
        n.client_id
        for n in parts
        if (n.deadline_missed_at or late_against_event(n, event_deadline)) and not n.delay_reason
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
            staff_message(breach, closed_at=now.isoformat()),
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
            client_message(breach, notice, closed_at=now.isoformat()),
            client_id=notice.client_id,
        )
    session.flush()
    return breach
