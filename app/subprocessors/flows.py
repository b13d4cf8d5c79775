"""Wiring into the events engine: the objection-deadline reminder."""

from __future__ import annotations

from sqlmodel import Session

from app.clock import Clock
from app.events import timers
from app.events.models import Timer
from app.settings import Settings
from app.subprocessors import service


@timers.handler(service.DEADLINE_SOON)
def _deadline_soon(session: Session, clock: Clock, timer: Timer, settings: Settings) -> None:
    service.on_deadline_soon(session, clock, timer.subject)
