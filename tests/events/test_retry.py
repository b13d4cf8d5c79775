"""The retry schedules of SPEC §9 as a table, jitter bounds, Retry-After parsing."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from app.events.retry import base_delay, next_retry, parse_retry_after

S, M, H = timedelta(seconds=1), timedelta(minutes=1), timedelta(hours=1)
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("urgent", "expected"),
    [
        (True, [5 * S, 30 * S, 2 * M, 5 * M, 15 * M, 30 * M, 1 * H, 1 * H, 1 * H]),
        (False, [5 * S, 5 * M, 30 * M, 2 * H, 5 * H, 10 * H, 14 * H, 20 * H, 24 * H, None]),
    ],
    ids=["urgent", "other"],
)
def test_schedule_table(urgent: bool, expected: list[timedelta | None]) -> None:
    elapsed = timedelta(0)
    for index, delay in enumerate(expected):
        assert base_delay(urgent, index, elapsed) == delay, index
        elapsed += delay or timedelta(0)


def test_urgent_retries_hourly_for_seven_days_then_stops() -> None:
    assert base_delay(True, 50, timedelta(days=6, hours=23)) == H
    assert base_delay(True, 50, timedelta(days=6, hours=23, minutes=1)) is None
    assert base_delay(False, 9, timedelta(0)) is None


def test_jitter_stays_within_twenty_percent_and_varies() -> None:
    rng = random.Random(7)
    seen = set()
    for _ in range(500):
        when = next_retry(urgent=False, retry_index=1, first_attempt_at=NOW, now=NOW, rng=rng)
        assert when is not None
        assert 4 * M <= when - NOW <= 6 * M
        seen.add(when)
    assert len(seen) > 400


def test_retry_after_replaces_the_schedule_within_bounds() -> None:
    assert (
        next_retry(urgent=True, retry_index=0, first_attempt_at=NOW, now=NOW, retry_after=90 * S)
        == NOW + 90 * S
    )
    capped = next_retry(
        urgent=True, retry_index=0, first_attempt_at=NOW, now=NOW, retry_after=timedelta(days=9)
    )
    assert capped == NOW + 24 * H
    assert (
        next_retry(urgent=False, retry_index=9, first_attempt_at=NOW, now=NOW, retry_after=S)
        is None
    )  # a Retry-After does not extend a schedule that is over


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("120", 120 * S),
        ("Mon, 02 Mar 2026 09:02:00 GMT", 2 * M),
        ("Mon, 02 Mar 2026 08:00:00 GMT", timedelta(0)),
        ("soon", None),
        (None, None),
        ("", None),
    ],
)
def test_parse_retry_after(header: str | None, expected: timedelta | None) -> None:
    assert parse_retry_after(header, NOW) == expected
