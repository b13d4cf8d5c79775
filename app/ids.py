"""Opaque identifiers with a type prefix (cli_…, key_…, con_…), sortable by creation time."""

from __future__ import annotations

import secrets
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case
# Two digits per 10 bits: a fan-out makes ten thousand ids, and this is its hottest loop.
_PAIRS = [a + b for a in _ALPHABET for b in _ALPHABET]
_MASK = (1 << 10) - 1


def new_id(prefix: str) -> str:
    """`prefix_` + 10 chars of millisecond time + 16 random chars (80 bits): the 130 bits
    (50 of time, 80 random) as 26 base32 digits, most significant first."""
    millis = (time.time_ns() // 1_000_000) & ((1 << 50) - 1)
    value = (millis << 80) | secrets.randbits(80)
    pairs = _PAIRS
    return (
        prefix + "_" + "".join([pairs[(value >> shift) & _MASK] for shift in range(120, -1, -10)])
    )
