"""Wiring into the events engine: a day before an approved exception ends, and when it ends."""

from __future__ import annotations

from sqlmodel import Session

from app.clock import Clock
from app.events import timers
from app.events.models import Timer
from app.security_exceptions import service
from app.settings import Settings


@timers.handler(service.ENDING)
def _ending(session: Session, clock: Clock, timer: Timer, settings: Settings) -> None:
    service.on_timer(session, clock, timer.subject, ended=False)


@timers.handler(service.ENDED)
def _ended(session: Session, clock: Clock, timer: Timer, settings: Settings) -> None:
    service.on_timer(session, clock, timer.subject, ended=True)
