"""The delivery pump: claims due deliveries and timers, sends signed requests, records every
attempt. It runs on the worker's event loop; database calls go to threads.

Isolation (SPEC §9): at most `endpoint_concurrency` requests to one endpoint and
`delivery_concurrency` in all are in flight per process, and a busy endpoint's rows are not
even claimed, so a slow or dead receiver holds a few slots and never the others' turn."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import httpx

from app.context import AppContext
from app.events import outbox, ssrf, timers
from app.events.outbox import EXCERPT_BYTES, AttemptResult, ClaimedDelivery
from app.events.retry import parse_retry_after
from app.events.signing import headers as signed_headers

log = logging.getLogger("dpa.events.pump")

CONNECT_TIMEOUT = 5.0
TOTAL_TIMEOUT = 15.0
TIMER_BATCH = 100


def make_http_client(concurrency: int) -> httpx.AsyncClient:
    """The one HTTP client factory for webhook delivery: no redirects, no proxies from the
    environment, connect 5 s (the 15 s total is enforced around each request)."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(TOTAL_TIMEOUT, connect=CONNECT_TIMEOUT),
        follow_redirects=False,
        trust_env=False,
        limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
    )


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
        self.tasks: set[asyncio.Task[None]] = set()
        self.results: list[AttemptResult] = []
        self._flushing: asyncio.Task[None] | None = None
        self._pending = False
        self._running = False
        self._closing = False
        self.client: httpx.AsyncClient | None = None
        # Called after each pass, to schedule the next wake-up (the worker sets it).
        self.on_idle: Callable[[], Awaitable[None]] | None = None

    async def start(self) -> None:
        self.client = make_http_client(self.global_cap)

    # --- scheduling ----------------------------------------------------------------------

    def kick(self) -> None:
        """Work was written or a slot freed: run a pass soon (coalesced, never lost)."""
        self._pending = True
        if not self._running and not self._closing:
            task = asyncio.get_running_loop().create_task(self.run())
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

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
            await self.on_idle()

    async def _drain(self) -> None:
        """Passes until one takes nothing."""
        progressed = True
        while progressed:
            progressed = await self._pass()

    async def _pass(self) -> bool:
        """Fire due timers and claim due deliveries once. True if anything was taken."""
        engine, clock = self.context.engine, self.context.clock
        progressed = False
        timer_ids = await asyncio.to_thread(
            timers.claim_due, engine, clock, self.owner, self.lease, TIMER_BATCH
        )
        for timer_id in timer_ids:
            await asyncio.to_thread(
                timers.fire, engine, clock, self.context.settings, self.owner, timer_id
            )
            progressed = True
        free = self.global_cap - sum(self.inflight.values())
        if free <= 0:
            return progressed
        saturated = {e for e, n in self.inflight.items() if n >= self.endpoint_cap}
        candidates = await asyncio.to_thread(outbox.candidates, engine, clock, free * 4, saturated)
        room = {e: self.endpoint_cap - n for e, n in self.inflight.items()}
        chosen: list[str] = []
        for delivery_id, endpoint_id in candidates:
            if len(chosen) >= free:
                break
            if room.get(endpoint_id, self.endpoint_cap) > 0:
                room[endpoint_id] = room.get(endpoint_id, self.endpoint_cap) - 1
                chosen.append(delivery_id)
        claimed = await asyncio.to_thread(
            outbox.claim, engine, clock, self.owner, self.lease, chosen
        )
        for delivery in claimed:
            self.inflight[delivery.endpoint_id] += 1
            task = asyncio.get_running_loop().create_task(self._send(delivery))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        # Chosen rows another worker claimed first: look again, there may be more behind them.
        return progressed or bool(chosen)

    # --- sending -------------------------------------------------------------------------

    async def _send(self, delivery: ClaimedDelivery) -> None:
        result = await self.attempt(delivery)
        self.inflight[delivery.endpoint_id] -= 1
        if self.inflight[delivery.endpoint_id] <= 0:
            del self.inflight[delivery.endpoint_id]
        self.results.append(result)
        self._flush_soon()
        # Refill in batches: a pass per finished request would spend more on claiming than
        # on sending. With few requests in flight (or none), every finish refills.
        busy = sum(self.inflight.values())
        if busy == 0 or self.global_cap - busy >= self.refill_at:
            self.kick()

    async def attempt(self, delivery: ClaimedDelivery) -> AttemptResult:
        assert self.client is not None
        attempted_at = self.context.clock.now()
        started = time.perf_counter()
        result = AttemptResult(claimed=delivery, attempted_at=attempted_at, duration_ms=0)
        try:
            target = await ssrf.pin(delivery.url, self.allow_private)
            # Wall-clock time: receivers check it against their own clock to refuse replays.
            headers = signed_headers(
                delivery.event_id, delivery.payload, delivery.signing_secrets, datetime.now(UTC)
            )
            headers["host"] = target.host_header
            extensions = {"sni_hostname": target.sni_hostname} if target.sni_hostname else {}
            async with asyncio.timeout(TOTAL_TIMEOUT):
                request = self.client.build_request(
                    "POST",
                    target.url,
                    content=delivery.payload.encode(),
                    headers=headers,
                    extensions=extensions,
                )
                response = await self.client.send(request, stream=True)
                try:
                    excerpt = bytearray()
                    async for chunk in response.aiter_bytes():
                        excerpt += chunk
                        if len(excerpt) >= EXCERPT_BYTES:
                            break
                finally:
                    await response.aclose()
            result.status_code = response.status_code
            result.response_excerpt = bytes(excerpt[:EXCERPT_BYTES]).decode("utf-8", "replace")
            if 300 <= response.status_code < 400:
                location = response.headers.get("location", "")
                result.error = f"redirect to {location!r} refused: redirects count as failures"
            elif response.status_code in (429, 503):
                result.retry_after = parse_retry_after(
                    response.headers.get("retry-after"), attempted_at
                )
            elif not result.success:
                result.error = f"the receiver answered {response.status_code}"
        except ssrf.UnsafeURL as exc:
            result.error = f"refused before connecting: {exc}"
        except TimeoutError:
            result.error = f"no complete answer within {TOTAL_TIMEOUT:.0f} s"
        except httpx.ConnectTimeout:
            result.error = f"could not connect within {CONNECT_TIMEOUT:.0f} s"
        except httpx.HTTPError as exc:
            result.error = f"{type(exc).__name__}: {exc}"[:500]
        result.duration_ms = int((time.perf_counter() - started) * 1000)
        metrics = self.context.metrics
        if metrics is not None:
            metrics.attempts.labels("success" if result.success else "failure").inc()
        return result

    # --- recording (group commit) ------------------------------------------------------

    def _flush_soon(self) -> None:
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        while self.results:
            batch, self.results = self.results, []
            try:
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
        busy = {e for e, n in self.inflight.items() if n >= self.endpoint_cap}
        has_room = sum(self.inflight.values()) < self.global_cap
        return await asyncio.to_thread(
            outbox.next_due, self.context.engine, self.context.clock, busy, has_room
        )

    async def settle(self) -> None:
        """Run passes until nothing due is left and every attempt is recorded."""
        while True:
            self._running = True
            try:
                await self._drain()
            finally:
                self._running = False
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
        """Stop claiming, let requests in flight finish (bounded by the timeout), record them."""
        self._closing = True
        busy = [t for t in self.tasks if not t.done() and t is not asyncio.current_task()]
        if busy:
            await asyncio.wait(busy, timeout=TOTAL_TIMEOUT + 5)
        if self._flushing is not None:
            await self._flushing
        if self.results:
            await self._flush()
        if self.client is not None:
            await self.client.aclose()
