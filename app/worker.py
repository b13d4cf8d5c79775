"""The worker: an event loop thread running APScheduler 3.x (AsyncIOScheduler) in every process
whose worker is on (SPEC §9, Pump).

The database is the only source of truth. The pump job runs when work is written (a commit in
this process, or PostgreSQL NOTIFY from another), at the exact next due time of any delivery or
timer, and on an idle tick as a safety net. The heartbeat proves to /readyz that jobs run."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import time
from concurrent.futures import Future
from datetime import UTC, datetime, timedelta
from typing import Any

import uvloop
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.engine import make_url

import app.domains  # noqa: F401  (timer handlers and delivery hooks of every domain)
from app import idempotency
from app.context import AppContext
from app.events import wake
from app.events.pump import Pump
from app.ids import new_id

log = logging.getLogger("dpa.worker")

HEARTBEAT_SECONDS = 5.0


class Worker:
    def __init__(self, context: AppContext) -> None:
        self.context = context
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{new_id('wrk')[-8:]}"
        # uvloop: the pump's HTTP client spends a tenth less CPU a request than on asyncio's
        # own loop (measured on the breach fan-out), and the worker is CPU-bound there.
        self.loop = uvloop.new_event_loop()
        self.pump = Pump(context, self.owner)
        self.pump.on_idle = self._schedule_next
        self.scheduler = AsyncIOScheduler(event_loop=self.loop, timezone=UTC)
        self._thread = threading.Thread(target=self._run_loop, name="dpa-worker", daemon=True)
        self._last_beat: float | None = None
        self._listener: asyncio.Task[None] | None = None
        self._started = False
        self.idle_seconds = context.settings.worker_idle_seconds

    # --- life cycle ----------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()
        self._call(self._start())
        wake.register(self.kick)
        self._started = True
        log.info("worker %s started", self.owner)

    def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        wake.unregister(self.kick)
        self._call(self._stop(), timeout=60)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        log.info("worker %s stopped", self.owner)

    def _run_loop(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()
        self.loop.close()

    def _call(self, coroutine: Any, timeout: float = 30) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        return future.result(timeout=timeout)

    async def _start(self) -> None:
        await self.pump.start()
        self._heartbeat()
        self.scheduler.add_job(
            self._heartbeat,
            "interval",
            seconds=HEARTBEAT_SECONDS,
            id="heartbeat",
            coalesce=True,
            max_instances=1,
        )
        self.scheduler.add_job(
            self.pump.run,
            "interval",
            seconds=self.idle_seconds,
            id="pump",
            next_run_time=datetime.now(UTC),
            coalesce=True,
            # A run that starts while another is busy only marks work pending (Pump.run); with
            # one instance APScheduler would skip it and fall back to the idle tick instead.
            max_instances=16,
            misfire_grace_time=None,
        )
        self.scheduler.add_job(
            self._maintenance,
            "interval",
            hours=1,
            id="maintenance",
            next_run_time=datetime.now(UTC) + timedelta(minutes=1),
            coalesce=True,
            max_instances=1,
        )
        self.scheduler.start()
        if make_url(self.context.settings.database_url).get_backend_name() == "postgresql":
            self._listener = asyncio.get_running_loop().create_task(self._listen())

    async def _stop(self) -> None:
        self.scheduler.shutdown(wait=False)
        if self._listener is not None:
            self._listener.cancel()
        await self.pump.close()

    # --- jobs ----------------------------------------------------------------------------

    async def _maintenance(self) -> None:
        try:
            await asyncio.to_thread(
                idempotency.purge, self.context.engine, self.context.clock.now()
            )
        except Exception:
            log.exception("maintenance failed; it runs again in an hour")

    def _heartbeat(self) -> None:
        self._last_beat = time.monotonic()

    async def _schedule_next(self) -> None:
        """Wake at the exact next due time (translated from the service clock to wall time)."""
        due = await self.pump.next_due()
        delay = self.idle_seconds
        if due is not None:
            delay = min(delay, max((due - self.context.clock.now()).total_seconds(), 0.0))
        job = self.scheduler.get_job("pump")
        if job is not None:
            job.modify(next_run_time=datetime.now(UTC) + timedelta(seconds=delay))

    async def _listen(self) -> None:
        """PostgreSQL LISTEN: another process committed work."""
        import psycopg

        url = make_url(self.context.settings.database_url).set(drivername="postgresql")
        dsn = url.render_as_string(hide_password=False)
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {wake.CHANNEL}")
                    self.pump.kick()  # anything written while we were not listening
                    async for _notice in conn.notifies():
                        self.pump.kick()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("LISTEN connection lost (%s); reconnecting", exc)
                await asyncio.sleep(1)

    # --- used by the app, the CLI and tests ----------------------------------------------

    def kick(self) -> None:
        """Thread-safe: run the pump now."""
        if not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.pump.kick)

    def settle(self, timeout: float = 60) -> None:
        """Process everything due now and wait until it is recorded (tests move the clock, then
        settle, instead of sleeping)."""
        self._call(self.pump.settle(), timeout=timeout)

    def alive(self) -> bool:
        last_beat = self._last_beat
        return (
            self._started
            and self.scheduler.running
            and last_beat is not None
            and time.monotonic() - last_beat < 3 * HEARTBEAT_SECONDS
        )
