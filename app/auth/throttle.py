"""Failed authentications are throttled per client address (SPEC §13): after `limit` failures
within `window` seconds, that address gets 429 with Retry-After until the window has passed,
before any key is checked. In-process: each serving process counts its own."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sqlmodel import Session

from app.auth.service import Authenticated, authenticate, authenticate_on_loop
from app.db import UnitOfWork, short_read
from app.errors import TooManyRequests, Unauthorized
from app.loopreads import LoopReadFailed

if TYPE_CHECKING:
    from app.context import AppContext

log = logging.getLogger("dpa.auth")


class FailedAuthThrottle:
    def __init__(self, limit: int, window_seconds: float) -> None:
        self.limit = limit
        self.window = window_seconds
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, address: str, now: float) -> deque[float]:
        failures = self._failures.setdefault(address, deque())
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        if not failures:
            del self._failures[address]
            return deque()
        return failures

    def retry_after(self, address: str) -> int | None:
        """Seconds until this address may try again, or None if it may now."""
        now = time.monotonic()
        with self._lock:
            failures = self._recent(address, now)
            if len(failures) < self.limit:
                return None
            return max(1, math.ceil(failures[-self.limit] + self.window - now))

    def failed(self, address: str) -> None:
        now = time.monotonic()
        with self._lock:
            failures = self._recent(address, now)
            failures.append(now)
            self._failures[address] = failures
            if len(self._failures) > 100_000:  # bounded memory under a spray of addresses
                oldest = min(self._failures, key=lambda a: self._failures[a][-1])
                del self._failures[oldest]


def authenticate_request(
    session: Session,
    context: AppContext,
    authorization: str | None,
    address: str,
    client_id: str | None = None,
) -> Authenticated:
    """The one door every authenticated request goes through: a throttled address is refused
    before its key is even looked up; a failed attempt counts against it."""
    with _throttled(context, address):
        secret = context.settings.key_hash_secret
        return authenticate(session, context.clock, secret, authorization, client_id)


async def authenticate_in_request(
    unit: UnitOfWork,
    context: AppContext,
    authorization: str | None,
    address: str,
    client_id: str | None = None,
) -> Authenticated:
    """`authenticate_request` for a request being served, the first thing its unit of work
    does: the statement goes on the event loop's own connection (app.loopreads) when the app
    runs on this loop, and the client it read joins the request's session; otherwise, and when
    that connection fails, through `short_read` in the session."""
    reads = context.loop_reads
    opened = unit.opened
    if reads is not None and reads.here() and (opened is None or not opened.in_transaction()):
        try:
            with _throttled(context, address):
                secret = context.settings.key_hash_secret
                found = await authenticate_on_loop(
                    reads, context.clock, secret, authorization, client_id
                )
        except LoopReadFailed:
            log.warning("the key read on the loop failed; through the engine instead")
        else:
            if found.client is not None:
                unit.adopt(found.client)
            return found
    return await short_read(
        unit.session, authenticate_request, context, authorization, address, client_id
    )


@contextmanager
def _throttled(context: AppContext, address: str) -> Iterator[None]:
    """A throttled address is refused first; an Unauthorized inside counts against it."""
    throttle = context.throttle
    if throttle is not None:
        wait = throttle.retry_after(address)
        if wait is not None:
            raise TooManyRequests(
                f"Too many failed authentications from this address; try again in {wait} s.",
                retry_after=wait,
            )
    try:
        yield
    except Unauthorized:
        if throttle is not None:
            throttle.failed(address)
        raise


def address_of(scope_client: tuple[str, int] | list[Any] | None) -> str:
    return str(scope_client[0]) if scope_client else "unknown"
