"""Secrets at rest (SPEC §13): no secret readable from the database alone.

Webhook signing secrets and stored idempotent answers (which carry shown-once API keys and
secrets) are sealed with AES-256-GCM under a key derived from `DPA_SECRET_KEY` (HKDF-SHA256),
each value with a fresh nonce and the key's id, so a key change is detected rather than
misread. Columns declared `SealedText` / `SealedBytes` seal on write and open on read; the rest
of the code sees plain values.

The key is the process's: `configure()` is called where settings are known (create_app, the
CLI). Values written before sealing existed are read as they are (no prefix) and sealed on
their next write."""

from __future__ import annotations

import base64
import hashlib
import os
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import LargeBinary, String
from sqlalchemy.types import TypeDecorator

TEXT_PREFIX = "sealed1."
BYTES_PREFIX = b"sealed1."
NONCE_BYTES = 12


class SealError(RuntimeError):
    """A sealed value that this process's key cannot open, or no key configured."""


class SecretBox:
    def __init__(self, master: bytes) -> None:
        key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"dpa-service sealed values v1"
        ).derive(master)
        self.key_id = hashlib.sha256(key).hexdigest()[:8]
        self._aead = AESGCM(key)

    def seal(self, plain: bytes, purpose: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return self.key_id.encode() + b"." + nonce + self._aead.encrypt(nonce, plain, purpose)

    def open(self, sealed: bytes, purpose: bytes) -> bytes:
        key_id, _, body = sealed.partition(b".")
        if key_id.decode(errors="replace") != self.key_id:
            raise SealError(
                f"sealed under key {key_id.decode(errors='replace')}, not this process's "
                f"{self.key_id}: DPA_SECRET_KEY changed"
            )
        nonce, ciphertext = body[:NONCE_BYTES], body[NONCE_BYTES:]
        return self._aead.decrypt(nonce, ciphertext, purpose)


_box: SecretBox | None = None


def configure(master: bytes) -> None:
    """Set the process's key (from Settings.key_hash_secret)."""
    global _box
    _box = SecretBox(master)


def box() -> SecretBox:
    if _box is None:
        raise SealError("no key configured for sealed values (app.crypto.configure)")
    return _box


class SealedText(TypeDecorator[str]):
    """A string column stored sealed: `sealed1.` and URL-safe base64 of key id, nonce and
    ciphertext."""

    impl = String
    cache_ok = True

    def __init__(self, length: int, purpose: str) -> None:
        super().__init__(length)
        self.purpose = purpose.encode()

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        if value is None:
            return None
        sealed = box().seal(value.encode(), self.purpose)
        return TEXT_PREFIX + base64.urlsafe_b64encode(sealed).decode()

    def process_result_value(self, value: str | None, dialect: Any) -> str | None:
        if value is None or not value.startswith(TEXT_PREFIX):
            return value  # written before sealing: sealed on its next write
        sealed = base64.urlsafe_b64decode(value[len(TEXT_PREFIX) :])
        return box().open(sealed, self.purpose).decode()


class SealedBytes(TypeDecorator[bytes]):
    impl = LargeBinary
    cache_ok = True

    def __init__(self, purpose: str) -> None:
        super().__init__()
        self.purpose = purpose.encode()

    def process_bind_param(self, value: bytes | None, dialect: Any) -> bytes | None:
        if value is None:
            return None
        return BYTES_PREFIX + box().seal(value, self.purpose)

    def process_result_value(self, value: bytes | None, dialect: Any) -> bytes | None:
        if value is None or not bytes(value).startswith(BYTES_PREFIX):
            return value
        return box().open(bytes(value)[len(BYTES_PREFIX) :], self.purpose)
