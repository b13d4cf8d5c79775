"""Wake the workers when work is written: in this process after the commit, and in other
processes through PostgreSQL NOTIFY (sent by the database only when the transaction commits)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy import event, text
from sqlalchemy.orm import Session

log = logging.getLogger("dpa.events.wake")

CHANNEL = "dpa_work"
_FLAG = "dpa_work_written"
_wakers: set[Callable[[], None]] = set()
_lock = threading.Lock()


def register(waker: Callable[[], None]) -> None:
    with _lock:
        _wakers.add(waker)


def unregister(waker: Callable[[], None]) -> None:
    with _lock:
        _wakers.discard(waker)


def work_written(session: Session) -> None:
    """Call after writing a due row (a delivery, a timer) in this session's transaction."""
    if session.info.get(_FLAG):
        return
    session.info[_FLAG] = True
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        session.execute(text(f"SELECT pg_notify('{CHANNEL}', '')"))


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop(_FLAG, False):
        with _lock:
            wakers = list(_wakers)
        for waker in wakers:
            try:
                waker()
            except Exception:  # a waker must never fail the committed request
                log.exception("waking a worker failed")


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_FLAG, None)
