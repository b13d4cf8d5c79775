"""Wiring into the events engine: security-exception ends, data-subject request reminders and
overdue requests."""

from __future__ import annotations

from sqlmodel import Session

from app.clock import Clock
from app.events import timers
from app.events.models import Timer
from app.instructions import service
from app.settings import Settings


@timers.handler(service.EXCEPTION_ENDING)
def _ending(session: Session, clock: Clock, timer: Timer, settings: Settings) -> None:
    service.on_exception_timer(session, clock, timer.subject, ended=False)


@timers.handler(service.EXCEPTION_ENDED)
def _ended(session: Session, clock: Clock, timer: Timer, settings: Settings) -> None:
    service.on_exception_timer(session, clock, timer.subject, ended=True)


@timers.handler(service.DSR_OVERDUE)
def _dsr_overdue(session: Session, clock: Clock, timer: Timer, settings: Settings) -> None:
    service.on_dsr_overdue(session, clock, timer.subject)


@timers.handler(service.DSR_REMINDER)
def _dsr_reminder(session: Session, clock: Clock, timer: Timer, settings: Settings) -> None:
    service.on_dsr_reminder(session, clock, timer.subject)
