"""Identifiers: a type prefix, 10 Crockford base32 characters of millisecond time, then 16 of
randomness; ordered by creation time."""

from __future__ import annotations

import re
import time

from app.ids import new_id

ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


def _decode(digits: str) -> int:
    value = 0
    for char in digits:
        value = value * 32 + ALPHABET.index(char)
    return value


def test_shape_and_time() -> None:
    before = time.time_ns() // 1_000_000
    identifier = new_id("evt")
    after = time.time_ns() // 1_000_000
    assert re.fullmatch(r"evt_[0-9a-hjkmnp-tv-z]{26}", identifier)
    assert before <= _decode(identifier[4:14]) <= after


def test_random_part_differs_and_order_follows_time() -> None:
    first = new_id("x")
    time.sleep(0.002)
    second = new_id("x")
    assert first[14:] != second[14:]
    assert first < second
    assert len({new_id("x")[14:] for _ in range(1000)}) == 1000
