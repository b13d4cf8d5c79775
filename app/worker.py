"""The scheduler host: APScheduler 3.x in every process whose worker is on (SPEC §9, Pump).

Jobs are added by the domains that need them; the heartbeat proves to /readyz that the
scheduler really runs jobs, not merely that it was started."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC

from apscheduler.schedulers.background import BackgroundScheduler

from app.context import AppContext

log = logging.getLogger("dpa.worker")

HEARTBEAT_SECONDS = 5.0


class Worker:
    def __init__(self, context: AppContext) -> None:
        self.context = context
        self.scheduler = BackgroundScheduler(timezone=UTC)
        self._last_beat: float | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        self.scheduler.add_job(
            self._heartbeat,
            "interval",
            seconds=HEARTBEAT_SECONDS,
            id="heartbeat",
            coalesce=True,
            max_instances=1,
        )
        self._heartbeat()
        self.scheduler.start()
        log.info("worker started")

    def _heartbeat(self) -> None:
        with self._lock:
            self._last_beat = time.monotonic()

    def alive(self) -> bool:
        with self._lock:
            last_beat = self._last_beat
        return (
            self.scheduler.running
            and last_beat is not None
            and time.monotonic() - last_beat < 3 * HEARTBEAT_SECONDS
        )

    def stop(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)
            log.info("worker stopped")
