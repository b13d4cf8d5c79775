"""What a running app holds (settings, engine, clock, worker) and the dependencies to read it."""

from __future__ import annotations

import asyncio
import threading
import weakref
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine

from app.clock import Clock
from app.settings import Settings

if TYPE_CHECKING:
    from app.auth.throttle import FailedAuthThrottle
    from app.loopreads import LoopReads
    from app.metrics import Metrics
    from app.worker import Worker


@dataclass
class AppContext:
    settings: Settings
    engine: Engine
    clock: Clock
    worker: Worker | None = field(default=None)
    metrics: Metrics | None = field(default=None)
    throttle: FailedAuthThrottle | None = field(default=None)
    # The key read's own connection(s) on the serving loop, open while the app runs.
    loop_reads: LoopReads | None = field(default=None)
    _slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = field(
        default_factory=weakref.WeakKeyDictionary, repr=False
    )
    # When this process last recorded each key's use (last_used_at is kept to the minute).
    _key_uses: dict[str, datetime] = field(default_factory=dict, repr=False)
    _key_uses_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def first_use_this_minute(self, key_id: str, now: datetime, minute: timedelta) -> bool:
        """Whether this request is the one to record the key's use: of a burst of requests that
        all read a stale last_used_at, one writes it, not each (they would queue for the one
        write lock, every one a transaction of its own)."""
        with self._key_uses_lock:
            last = self._key_uses.get(key_id)
            if last is not None and timedelta(0) <= now - last < minute:
                return False
            self._key_uses[key_id] = now
            return True

    def request_slots(self) -> asyncio.Semaphore:
        """The turns requests take at the database, one per pooled connection.

        A request takes its turn on the event loop before it opens its session and gives it
        back after the commit. Without it, a burst larger than the pool left threads waiting
        for a connection while the requests holding one waited for a thread to commit in.
        One semaphore per event loop: tests drive one app from several loops.
        """
        loop = asyncio.get_running_loop()
        slots = self._slots.get(loop)
        if slots is None:
            slots = self._slots[loop] = asyncio.Semaphore(self.settings.database_pool_size)
        return slots


async def get_context(request: Request) -> AppContext:
    context: AppContext = request.app.state.context
    return context


async def get_clock(request: Request) -> Clock:
    return (await get_context(request)).clock


async def get_settings_dep(request: Request) -> Settings:
    return (await get_context(request)).settings


ContextDep = Annotated[AppContext, Depends(get_context)]
ClockDep = Annotated[Clock, Depends(get_clock)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
