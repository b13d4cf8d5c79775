"""Wiring into the events engine: the reminder a few days before a client's objection deadline."""

from __future__ import annotations

from sqlmodel import Session

from app.clock import Clock
from app.events import service as events
from app.events import timers
from app.events.models import Timer
from app.settings import Settings
from app.subprocessors import changes
from app.subprocessors.models import ChangeNotice, ChangeRecipient


@timers.handler(changes.DEADLINE_SOON)
def on_deadline_soon(session: Session, clock: Clock, timer: Timer, settings: Settings) -> None:
    recipient = session.get(ChangeRecipient, timer.subject)
    if recipient is None or recipient.response is not None:
        return
    notice = session.get(ChangeNotice, recipient.notice_id)
    if notice is None:
        return
    subs = changes.subprocessors_of(session, notice)
    events.emit(
        session,
        clock,
        "subprocessor.objection_deadline_soon",
        notice.id,
        changes.message(notice, subs, recipient),
        client_id=recipient.client_id,
    )
