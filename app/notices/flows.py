"""Wiring into the events engine: the escalation and e-mail timers, and the delivery hook of
every event type that carries a duty to inform a client."""

from __future__ import annotations

from sqlmodel import Session

from app.clock import Clock
from app.events import outbox, timers
from app.events.models import Timer
from app.notices import service
from app.settings import Settings


@timers.handler(service.ESCALATION)
def _escalation(session: Session, clock: Clock, timer: Timer, settings: Settings) -> None:
    service.on_escalation(session, clock, timer.subject)


@timers.handler(service.EMAIL)
def _email(session: Session, clock: Clock, timer: Timer, settings: Settings) -> None:
    service.on_email(session, clock, settings, timer.subject, timer.payload)


def _delivered(session: Session, clock: Clock, deliveries: list[outbox.Delivered]) -> None:
    """notified_at: the first 2xx from one of the client's endpoints (SPEC §8.4)."""
    service.on_delivered(session, clock, [(d.event_id, d.delivered_at) for d in deliveries])


for _type in service.NOTICE_TYPES:
    outbox.on_delivered(_type)(_delivered)
