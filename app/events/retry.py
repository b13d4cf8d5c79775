"""The retry schedules of SPEC §9, in one place. Everything else calls `next_retry`."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

S, M, H = timedelta(seconds=1), timedelta(minutes=1), timedelta(hours=1)

# Urgent (breach, disclosure, instruction objection): these, then hourly until 7 days.
URGENT_SCHEDULE = (5 * S, 30 * S, 2 * M, 5 * M, 15 * M, 30 * M, 1 * H)
URGENT_HOURLY = 1 * H
URGENT_GIVE_UP_AFTER = timedelta(days=7)
# Everything else: these, then the delivery has failed (and stays listed as failed).
NORMAL_SCHEDULE = (5 * S, 5 * M, 30 * M, 2 * H, 5 * H, 10 * H, 14 * H, 20 * H, 24 * H)
JITTER = 0.20
MAX_RETRY_AFTER = timedelta(hours=24)


def base_delay(urgent: bool, retry_index: int, since_first_attempt: timedelta) -> timedelta | None:
    """The delay before retry number `retry_index + 1` (0-based), None when the schedule is over."""
    schedule = URGENT_SCHEDULE if urgent else NORMAL_SCHEDULE
    if retry_index < len(schedule):
        return schedule[retry_index]
    if urgent and since_first_attempt + URGENT_HOURLY <= URGENT_GIVE_UP_AFTER:
        return URGENT_HOURLY
    return None


def next_retry(
    *,
    urgent: bool,
    retry_index: int,
    first_attempt_at: datetime,
    now: datetime,
    retry_after: timedelta | None = None,
    rng: random.Random | None = None,
) -> datetime | None:
    """When to try again after a failure at `now`, or None to give up.

    A receiver's Retry-After (429/503) replaces the scheduled delay; otherwise ±20 % jitter
    spreads retries so that a recovering receiver is not hit by all of them at once."""
    delay = base_delay(urgent, retry_index, now - first_attempt_at)
    if delay is None:
        return None
    if retry_after is not None:
        return now + min(max(retry_after, S), MAX_RETRY_AFTER)
    factor = (rng or random).uniform(1 - JITTER, 1 + JITTER)
    return now + delay * factor


def parse_retry_after(value: str | None, now: datetime) -> timedelta | None:
    """RFC 9110 Retry-After: delay-seconds or an HTTP-date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return timedelta(seconds=int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(when - now, timedelta(0))
