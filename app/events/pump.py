"""The delivery pump: claims due deliveries and timers, sends signed requests, records every
attempt. It runs on the worker's event loop; database calls go to threads.

Isolation (SPEC §9): at most `endpoint_concurrency` requests to one endpoint and
`delivery_concurrency` in all are in flight per process, and a busy endpoint's rows are not
even claimed, so a slow or dead receiver holds a few slots and never the others' turn.

Claims run ahead of the sends: up to twice `delivery_concurrency` more deliveries than are in
flight are claimed and wait here for a slot, so a request that finishes is followed by the next at
once instead of after a trip to the database, and claims and records go in fewer, larger
transactions. A claim that waited too long for its slot is given back, never sent late."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from sqlmodel import Session

from app.context import AppContext
from app.events import outbox, sending, timers
from app.events.sending import TOTAL_TIMEOUT, AttemptResult, ClaimedDelivery
from app.events.types import AttemptOutcome

log = logging.getLogger("dpa.events.pump")

TIMER_BATCH = 100
# Claims held ahead of the free slots, in multiples of the concurrency. Each refill then claims
# what finished since the last one and more: larger, fewer transactions. bench.fanout,
# alternating rounds: 1 against none, SQLite 1.03 s against 1.08 s, PostgreSQL 1.23 against
# 1.39 s; 2 against 1, SQLite 0.79 s against 0.84 s, PostgreSQL 1.13 against 1.24 s.
AHEAD = 2


class Pump:
    def __init__(self, context: AppContext, owner: str) -> None:
        self.context = context
        self.owner = owner
        settings = context.settings
        self.global_cap = settings.delivery_concurrency
        self.endpoint_cap = settings.endpoint_concurrency
        self.refill_at = max(1, self.global_cap // 4)
        self.lease = timedelta(seconds=settings.delivery_lease_seconds)
        self.allow_private = settings.webhook_allow_private
        self.inflight: Counter[str] = Counter()
        # Claimed, waiting for a slot: oldest first, with when they were claimed.
        self.queued: deque[tuple[ClaimedDelivery, float]] = deque()
        # How long a claim may wait for its slot: half of what the lease leaves after the
        # longest request, the other half left to record its answer before the lease runs out.
        # A lease too short for a second of waiting claims only what it sends at once.
        self.max_wait = (self.lease.total_seconds() - TOTAL_TIMEOUT) / 2
        self.ahead = AHEAD * self.global_cap if self.max_wait >= 1 else 0
        # time.monotonic, a seam for tests: the wait is on the same clock as the lease, never
        # on the service clock tests move.
        self.monotonic: Callable[[], float] = time.monotonic
        self.tasks: set[asyncio.Task[None]] = set()
        self.results: list[AttemptResult] = []
        self._flushing: asyncio.Task[None] | None = None
        # Every pass (the worker's jobs, kicks, settle, close) and the wake-up it plans take this
        # lock, so whoever waits on it knows the pass before it has committed what it claimed,
        # and wake-ups are planned in the order of the passes that read them.
        self._passing = asyncio.Lock()
        # SQLite has one writer: a claim and a record in two threads at once met in SQLite's
        # busy handler, which sleeps (1, 2, 5 ms...) before trying again, while the pipeline
        # waited on both. Queued on this lock instead, the next starts the moment the last
        # commits: the fan-out ~11 % faster on SQLite (medians of 12 rounds each, 6.30 x against
        # 7.11 x). PostgreSQL locks rows, and the same lock made it slower (~10.5 x against
        # ~9.5 x), so there they still run side by side.
        sqlite = context.engine.dialect.name == "sqlite"
        self._one_writer = asyncio.Lock() if sqlite else None
        self._pending = False
        self._running = False
        self._closing = False
        self.client: aiohttp.ClientSession | None = None
        # Called after each pass, to schedule the next wake-up (the worker sets it).
        self.on_idle: Callable[[], Awaitable[None]] | None = None

    async def start(self) -> None:
        self.client = sending.make_http_session(self.global_cap, self.allow_private)

    # --- scheduling ----------------------------------------------------------------------

    def kick(self) -> None:
        """Work was written or a slot freed: run a pass soon (coalesced, never lost)."""
        self._pending = True
        if not self._running and not self._closing:
            self._spawn(self.run())

    async def run(self) -> None:
        """One pump pass: repeat while anything was due or a kick arrived meanwhile."""
        self._pending = True
        if self._running or self._closing:
            return
        self._running = True
        try:
            while self._pending and not self._closing:
                self._pending = False
                await self._drain()
        except Exception:
            log.exception("pump pass failed; the next wake-up retries")
        finally:
            self._running = False
        if self.on_idle is not None and not self._closing:
            # Planned under the pass lock: a pass that read "nothing due" just before a commit
            # must not plan its stale wake-up after the pass that commit kicked planned the
            # right one (last writer wins; the timer would wait for the idle tick).
            async with self._passing:
                await self.on_idle()

    async def _drain(self) -> None:
        """Passes until one takes nothing (or the pump is closing). A pass in progress elsewhere
        is waited for: returning while it still holds a claim would report "nothing due" for
        work that has not happened yet."""
        async with self._passing:
            progressed = True
            while progressed and not self._closing:
                progressed = await self._pass()

    async def _pass(self) -> bool:
        """Fire due timers and claim due deliveries once. True if anything was taken."""
        engine, clock = self.context.engine, self.context.clock
        free = self._claimable()
        room = {endpoint: self.endpoint_cap - held for endpoint, held in self._held().items()}
        async with self._writing():
            timer_ids, chosen, claimed = await asyncio.to_thread(self._claim, free, room)
        for delivery in claimed:
            if delivery.after_interruption is not None:
                log.warning(
                    "delivery %s: worker %s stopped before it recorded an answer; sending again",
                    delivery.delivery_id,
                    delivery.after_interruption,
                )
                if self.context.metrics is not None:
                    self.context.metrics.attempts.labels(AttemptOutcome.interrupted.value).inc()
            self.queued.append((delivery, self.monotonic()))
        self._dispatch()
        for timer_id in timer_ids:
            await asyncio.to_thread(
                timers.fire, engine, clock, self.context.settings, self.owner, timer_id
            )
        # Chosen rows another worker claimed first: look again, there may be more behind them.
        return bool(timer_ids) or bool(chosen)

    def _claim(
        self, free: int, room: dict[str, int]
    ) -> tuple[list[str], list[str], list[ClaimedDelivery]]:
        """In a worker thread, one transaction per pass: the due timers claimed, then due
        deliveries chosen within the free slots (and each endpoint's) and claimed. Returns the
        timers, the deliveries chosen, and those claimed (another worker may have taken some).
        One transaction, not one each: on PostgreSQL each costs a connection check, a BEGIN and
        its end, ~0.1 ms of CPU a trip here."""
        engine, clock = self.context.engine, self.context.clock
        with Session(engine) as session:
            timer_ids = timers.claim_due(session, clock, self.owner, self.lease, TIMER_BATCH)
            chosen = self._choose(session, free, room) if free > 0 else []
            claimed = outbox.claim(session, clock, self.owner, self.lease, chosen)
            session.commit()
        return timer_ids, chosen, claimed

    def _choose(self, session: Session, free: int, room: dict[str, int]) -> list[str]:
        """Due deliveries to claim: oldest first, at most `free`, and within each endpoint's
        `room` (endpoints with none left are not even read)."""
        saturated = {endpoint for endpoint, left in room.items() if left <= 0}
        found = outbox.candidates(session, self.context.clock, free * 4, saturated)
        chosen: list[str] = []
        for delivery_id, endpoint_id in found:
            if len(chosen) >= free:
                break
            if room.get(endpoint_id, self.endpoint_cap) > 0:
                room[endpoint_id] = room.get(endpoint_id, self.endpoint_cap) - 1
                chosen.append(delivery_id)
        return chosen

    def _writing(self) -> contextlib.AbstractAsyncContextManager[object]:
        """The turn of the pump's claims and records at the database (SQLite: one at a time)."""
        return self._one_writer or contextlib.nullcontext()

    def _held(self) -> Counter[str]:
        """Each endpoint's deliveries in flight and claimed waiting for a slot: together they
        stay within its cap, so a waiting claim never waits for its endpoint, only for a slot."""
        held = Counter(self.inflight)
        held.update(delivery.endpoint_id for delivery, _claimed_at in self.queued)
        return held

    def _claimable(self) -> int:
        """How many more deliveries a pass may claim: the free slots and the claims ahead."""
        return self.global_cap + self.ahead - sum(self.inflight.values()) - len(self.queued)

    # --- sending -------------------------------------------------------------------------

    def _dispatch(self) -> None:
        """Start waiting claims while slots are free, oldest first. One that waited longer than
        `max_wait` is given back (due again at once, claimed by the next pass): sent now, its
        answer could come after the lease ran out and another worker sent it again."""
        stale: list[str] = []
        while self.queued and not self._closing:
            if sum(self.inflight.values()) >= self.global_cap:
                break
            delivery, claimed_at = self.queued.popleft()
            if self.monotonic() - claimed_at > self.max_wait:
                stale.append(delivery.delivery_id)
                continue
            self.inflight[delivery.endpoint_id] += 1
            self._spawn(self._send(delivery))
        if stale:
            log.warning(
                "%d claimed deliveries waited over %.0f s for a slot; given back",
                len(stale),
                self.max_wait,
            )
            self._spawn(self._give_back(stale))

    async def _give_back(self, delivery_ids: list[str]) -> None:
        """Claims never attempted: released, so any worker takes them at its next pass."""
        try:
            async with self._writing():
                await asyncio.to_thread(
                    outbox.release, self.context.engine, self.owner, delivery_ids
                )
        except Exception:
            # They come back when their lease runs out, logged `interrupted`: late, not lost.
            log.exception("giving back %d claims failed", len(delivery_ids))
        self.kick()  # (none when closing)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _send(self, delivery: ClaimedDelivery) -> None:
        try:
            result = await self.attempt(delivery)
        finally:
            # The slot is the endpoint's whatever happened (a cancelled task included: its
            # claim stays leased and is found interrupted, sent again).
            self.inflight[delivery.endpoint_id] -= 1
            if self.inflight[delivery.endpoint_id] <= 0:
                del self.inflight[delivery.endpoint_id]
        self.results.append(result)
        self._flush_soon()
        self._dispatch()
        # Refill in batches: a pass per finished request would spend more on claiming than
        # on sending. With few requests in flight (or none), every finish refills.
        busy = sum(self.inflight.values()) + len(self.queued)
        if busy == 0 or self._claimable() >= self.refill_at:
            self.kick()

    async def attempt(self, delivery: ClaimedDelivery) -> AttemptResult:
        assert self.client is not None
        attempted_at = self.context.clock.now()
        result = await sending.send(self.client, delivery, attempted_at, self.allow_private)
        metrics = self.context.metrics
        if metrics is not None:
            metrics.attempts.labels(
                (AttemptOutcome.success if result.success else AttemptOutcome.failure).value
            ).inc()
        return result

    # --- recording (group commit) ------------------------------------------------------

    def _flush_soon(self) -> None:
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        while self.results:
            batch, self.results = self.results, []
            try:
                async with self._writing():
                    await asyncio.to_thread(
                        outbox.record, self.context.engine, self.context.clock, self.owner, batch
                    )
            except Exception:
                # The claims stay leased and come back after the lease: sent again, never lost.
                log.exception("recording %d attempts failed", len(batch))

    # --- for the worker and tests ------------------------------------------------------

    async def next_due(self) -> datetime | None:
        """The next moment this pump has something to do that no finishing request will
        announce: due work on endpoints with free slots, timers, leases running out."""
        busy = {endpoint for endpoint, held in self._held().items() if held >= self.endpoint_cap}
        has_room = self._claimable() > 0
        return await asyncio.to_thread(
            outbox.next_due, self.context.engine, self.context.clock, busy, has_room
        )

    async def settle(self) -> None:
        """Run passes until nothing due is left and every attempt is recorded."""
        while True:
            await self._drain()
            busy = [t for t in self.tasks if not t.done() and t is not asyncio.current_task()]
            if busy:
                await asyncio.wait(busy)
                continue
            if self._flushing is not None and not self._flushing.done():
                await self._flushing
                continue
            if self.results:
                await self._flush()
                continue
            due = await self.next_due()
            if due is None or due > self.context.clock.now():
                return

    async def close(self) -> None:
        """Stop claiming, let the pass and the requests in flight finish (bounded by the
        timeout), record them."""
        self._closing = True
        # The pass in progress stops at its next turn, once it has fired what it claimed:
        # cutting it off would leave a timer leased, and late by a lease, after a restart.
        await self._passing.acquire()
        self._passing.release()
        # Claims still waiting for a slot were never attempted: due again at once for whoever
        # runs next, not after their lease.
        waiting = [delivery.delivery_id for delivery, _claimed_at in self.queued]
        self.queued.clear()
        if waiting:
            await self._give_back(waiting)
        busy = [t for t in self.tasks if not t.done() and t is not asyncio.current_task()]
        if busy:
            await asyncio.wait(busy, timeout=TOTAL_TIMEOUT + 5)
        if self._flushing is not None:
            await self._flushing
        if self.results:
            await self._flush()
        if self.client is not None:
            await self.client.close()
