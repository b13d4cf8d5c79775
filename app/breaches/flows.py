"""Wiring into the events engine: the breach timers' handlers. (Delivery, escalation and the
e-mail fallback are the notices module's: app/notices.)"""

from __future__ import annotations

from sqlmodel import Session

from app.breaches import service
from app.clock import Clock
from app.events import timers
from app.events.models import Timer
from app.settings import Settings


@timers.handler(service.REMINDER)
def _reminder(session: Session, clock: Clock, timer: Timer, settings: Settings) -> None:
    service.on_reminder(session, clock, settings, timer.subject, timer.due_at)


@timers.handler(service.STAFF_REMINDER)
def _staff_reminder(session: Session, clock: Clock, timer: Timer, settings: Settings) -> None:
    service.on_staff_reminder(session, clock, timer.subject, timer.due_at)


@timers.handler(service.DEADLINE)
def _deadline(session: Session, clock: Clock, timer: Timer, settings: Settings) -> None:
    service.on_deadline(session, clock, timer.subject)
