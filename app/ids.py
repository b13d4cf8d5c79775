"""Opaque identifiers with a type prefix (cli_…, key_…, con_…), sortable by creation time."""

from __future__ import annotations

import base64
import secrets
import time

# RFC 4648 base32 spelled in Crockford's alphabet, lower case (no i, l, o, u).
_CROCKFORD = bytes.maketrans(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", b"0123456789abcdefghjkmnpqrstvwxyz"
)


def new_id(prefix: str) -> str:
    """`prefix_` + 10 chars of millisecond time + 16 random chars (80 bits).

    The 130 bits (50 of time, 80 random) are shifted to fill 20 bytes, whose base32 form's first
    26 characters are exactly those bits: one C call, where a breach's fan-out makes thousands."""
    millis = (time.time_ns() // 1_000_000) % (1 << 50)
    value = ((millis << 80) | secrets.randbits(80)) << 30
    digits = base64.b32encode(value.to_bytes(20, "big"))[:26].translate(_CROCKFORD)
    return f"{prefix}_{digits.decode()}"
