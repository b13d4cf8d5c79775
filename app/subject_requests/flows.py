"""Wiring into the events engine: reminders before a data-subject request's due date, and the
overdue notice."""

from __future__ import annotations

from sqlmodel import Session

from app.clock import Clock
from app.events import timers
from app.events.models import Timer
from app.settings import Settings
from app.subject_requests import service


@timers.handler(service.OVERDUE)
def _overdue(session: Session, clock: Clock, timer: Timer, settings: Settings) -> None:
    service.on_overdue(session, clock, timer.subject)


@timers.handler(service.REMINDER)
def _reminder(session: Session, clock: Clock, timer: Timer, settings: Settings) -> None:
    service.on_reminder(session, clock, timer.subject)
