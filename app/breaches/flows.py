"""The breach timers' handlers and what happens when a breach message reaches a client, wired into
the events engine. (Delivery, escalation and the e-mail fallback are app/notices'.)"""

from __future__ import annotations

import functools
from datetime import datetime

from sqlalchemy import Update, bindparam, update
from sqlmodel import Session

from app.breaches.models import Breach, BreachNotice
from app.breaches.notifying import (
    DEADLINE,
    NOTICE_KIND,
    REMINDER,
    STAFF_REMINDER,
    client_message,
    staff_message,
    tell,
)
from app.breaches.schemas import BreachStatus
from app.clock import Clock
from app.db import execute_many, expire_loaded, table_of
from app.events import service as events
from app.events import timers
from app.events.models import Timer
from app.notices import service as notices
from app.settings import Settings


def _notice_and_breach(session: Session, notice_id: str) -> tuple[BreachNotice, Breach] | None:
    notice = session.get(BreachNotice, notice_id)
    breach = session.get(Breach, notice.breach_id) if notice else None
    return (notice, breach) if notice and breach else None


def _hours_after_aware(breach: Breach, timer: Timer) -> int:
    return round((timer.due_at - breach.aware_at).total_seconds() / 3600)


@timers.handler(REMINDER)
def on_reminder(session: Session, clock: Clock, timer: Timer, settings: Settings) -> None:
    found = _notice_and_breach(session, timer.subject)
    if found is None:
        return
    notice, breach = found
    if notice.acknowledged_at or breach.status == BreachStatus.closed:
        return  # no longer relevant: it does not fire
    hours = _hours_after_aware(breach, timer)
    message = client_message(breach, notice, reminder_hours_after_aware=hours)
    tell(session, clock, settings, breach, notice, "breach.reminder", message)


@timers.handler(STAFF_REMINDER)
def on_staff_reminder(session: Session, clock: Clock, timer: Timer, settings: Settings) -> None:
    breach = session.get(Breach, timer.subject)
    if breach is None or breach.staff_acknowledged_at or breach.status == BreachStatus.closed:
        return
    hours = _hours_after_aware(breach, timer)
    events.emit(
        session,
        clock,
        "breach.reminder",
        breach.id,
        staff_message(breach, reminder_hours_after_aware=hours),
        client_id=None,
    )


@timers.handler(DEADLINE)
def on_deadline(session: Session, clock: Clock, timer: Timer, settings: Settings) -> None:
    found = _notice_and_breach(session, timer.subject)
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


@functools.cache
def _notify_statement() -> Update:
    """Built once: every recorded batch of breach messages that reached clients runs it."""
    table = table_of(BreachNotice)
    return (
        update(table)
        .where(table.c.id == bindparam("b_id"), table.c.notified_at.is_(None))
        .values(notified_at=bindparam("at"))
    )


@notices.on_notified(NOTICE_KIND)
def on_notified(session: Session, clock: Clock, sent: list[notices.Arrival]) -> None:
    """Clients' breach messages reached them (each carries the whole Art. 33(3) content): the
    first to reach a client sets its notified_at, and its deadline timer stops. Reminders go on
    until the client acknowledges."""
    arrived: dict[str, datetime] = {}
    for notice in sent:
        at = notice.notified_at
        arrived[notice.subject] = min(at, arrived.get(notice.subject, at))
    execute_many(session, _notify_statement(), [{"b_id": s, "at": at} for s, at in arrived.items()])
    expire_loaded(session, BreachNotice, set(arrived), "notified_at")
    # A part notified before had its deadline timer stopped then: cancelling again is nothing.
    timers.cancel_many(session, clock, list(arrived), kinds=[DEADLINE])
