"""Wiring into the events engine: the breach timers' handlers and the delivery hook."""

from __future__ import annotations

from sqlmodel import Session

from app.breaches import service
from app.clock import Clock
from app.events import outbox, timers
from app.events.models import Delivery, Event, Timer
from app.settings import Settings


@timers.handler(service.REMINDER)
def _reminder(session: Session, clock: Clock, timer: Timer, settings: Settings) -> None:
    service.on_reminder(session, clock, timer.subject, timer.due_at)


@timers.handler(service.STAFF_REMINDER)
def _staff_reminder(session: Session, clock: Clock, timer: Timer, settings: Settings) -> None:
    service.on_staff_reminder(session, clock, timer.subject, timer.due_at)


@timers.handler(service.ESCALATION)
def _escalation(session: Session, clock: Clock, timer: Timer, settings: Settings) -> None:
    service.on_escalation(session, clock, timer.subject)


@timers.handler(service.DEADLINE)
def _deadline(session: Session, clock: Clock, timer: Timer, settings: Settings) -> None:
    service.on_deadline(session, clock, timer.subject)


@timers.handler(service.EMAIL)
def _email(session: Session, clock: Clock, timer: Timer, settings: Settings) -> None:
    service.on_email(session, clock, settings, timer.subject, timer.payload)


@outbox.on_delivered("breach.notified")
def _notified(session: Session, clock: Clock, event: Event, delivery: Delivery) -> None:
    """notified_at: the first 2xx from one of the client's endpoints (SPEC §8.1)."""
    assert delivery.delivered_at is not None and event.client_id is not None
    service.on_notice_delivered(
        session, clock, delivery.delivered_at, event.subject, event.client_id
    )
