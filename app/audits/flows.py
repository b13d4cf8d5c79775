"""Wiring into the events engine: the audit reminder's handler."""

from __future__ import annotations

from sqlmodel import Session

from app.audits import service
from app.clock import Clock
from app.events import timers
from app.events.models import Timer
from app.settings import Settings


@timers.handler(service.REMINDER)
def _reminder(session: Session, clock: Clock, timer: Timer, settings: Settings) -> None:
    service.on_reminder(session, clock, timer.subject)
