"""Secrets at rest (SPEC §13): no secret readable from the database alone.

Webhook signing secrets and stored idempotent answers (which carry shown-once API keys and
secrets) are sealed with AES-256-GCM under a key derived (HKDF-SHA256) from a key ring, each
value with a fresh nonce and its key's id, so a value is opened with the key that sealed it and
a missing key is detected rather than misread. Columns declared `SealedText` / `SealedBytes`
seal on write and open on read; the rest of the code sees plain values.

The ring is `DPA_SEALING_KEYS` (newest first), then the key derived from `DPA_SECRET_KEY`, which
sealed everything before the ring existed. New values are sealed under the newest key; any key
of the ring opens what it sealed. `reseal()` (`dpa secrets rotate-key`) moves every stored value
to the newest key, so an old key can leave the ring once nothing is sealed under it.

The ring is the process's: `configure()` is called where settings are known (create_app, the
CLI). Values written before sealing existed are read as they are (no prefix) and sealed on
their next write or by `reseal()`."""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import (
    Column,
    Engine,
    LargeBinary,
    MetaData,
    String,
    Table,
    select,
    type_coerce,
    update,
)
from sqlalchemy.types import TypeDecorator

TEXT_PREFIX = "sealed1."
BYTES_PREFIX = b"sealed1."
NONCE_BYTES = 12


class SealError(RuntimeError):
    """A sealed value that this process's key cannot open, or no key configured."""


def key_id_of(master: bytes) -> str:
    """The id a key's values carry (the first 8 hex digits of the derived key's SHA-256)."""
    return hashlib.sha256(_derive(master)).hexdigest()[:8]


def _derive(master: bytes) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"dpa-service sealed values v1"
    ).derive(master)


class SecretBox:
    """A key ring: seals under the first key, opens with whichever key sealed a value."""

    def __init__(self, masters: list[bytes]) -> None:
        if not masters:
            raise SealError("a key ring needs at least one key")
        self._keys: dict[str, AESGCM] = {}
        for master in masters:
            key = _derive(master)
            self._keys.setdefault(hashlib.sha256(key).hexdigest()[:8], AESGCM(key))
        self.key_id = next(iter(self._keys))
        self.key_ids = tuple(self._keys)

    def seal(self, plain: bytes, purpose: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        aead = self._keys[self.key_id]
        return self.key_id.encode() + b"." + nonce + aead.encrypt(nonce, plain, purpose)

    def open(self, sealed: bytes, purpose: bytes) -> bytes:
        key_id, nonce, ciphertext = split_sealed(sealed)
        aead = self._keys.get(key_id)
        if aead is None:
            raise SealError(
                f"sealed under key {key_id}, which is not in this process's key ring "
                f"({', '.join(self.key_ids)}): a key was removed from DPA_SEALING_KEYS, or "
                "DPA_SECRET_KEY changed"
            )
        return aead.decrypt(nonce, ciphertext, purpose)


def split_sealed(sealed: bytes) -> tuple[str, bytes, bytes]:
    """Key id, nonce and ciphertext of a sealed value (without its column prefix)."""
    key_id, _, body = sealed.partition(b".")
    return key_id.decode(errors="replace"), body[:NONCE_BYTES], body[NONCE_BYTES:]


_box: SecretBox | None = None


def configure(masters: list[bytes]) -> None:
    """Set the process's key ring, newest first (from Settings.sealing_keys)."""
    global _box
    _box = SecretBox(masters)


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
        return box().open(self._sealed(value), self.purpose).decode()

    def key_id_of(self, stored: str) -> str | None:
        """The key a stored value is sealed under; None for a value stored in clear."""
        return split_sealed(self._sealed(stored))[0] if stored.startswith(TEXT_PREFIX) else None

    @staticmethod
    def _sealed(stored: str) -> bytes:
        return base64.urlsafe_b64decode(stored[len(TEXT_PREFIX) :])


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

    def key_id_of(self, stored: bytes) -> str | None:
        stored = bytes(stored)
        if not stored.startswith(BYTES_PREFIX):
            return None
        return split_sealed(stored[len(BYTES_PREFIX) :])[0]


Sealed = SealedText | SealedBytes


@dataclass
class ResealCount:
    """What `reseal()` found in one column: values moved to the newest key, values already
    under it, and the keys the moved values were sealed under (`clear` for unsealed ones)."""

    column: str
    resealed: int = 0
    current: int = 0
    skipped: int = 0
    from_keys: dict[str, int] = field(default_factory=dict)


def sealed_columns(metadata: MetaData) -> list[tuple[Table, Column[Any], Sealed]]:
    found = []
    for table in metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, SealedText | SealedBytes):
                found.append((table, column, column.type))
    return found


def reseal(engine: Engine, metadata: MetaData, batch: int = 500) -> list[ResealCount]:
    """Seal every stored value of every sealed column under the ring's newest key.

    Each value is rewritten only if it is still the one read (compare and set on the stored
    form), so a secret rotated meanwhile by the API (already sealed under the newest key, since
    every process shares the ring) is never overwritten with the old one; it is `skipped`.
    Safe to run while the service serves, and again: a second run finds everything current."""
    newest = box().key_id
    counts = []
    for table, column, sealed in sealed_columns(metadata):
        (key,) = table.primary_key.columns
        stored_type = sealed.impl_instance
        stored = type_coerce(column, stored_type)
        count = ResealCount(column=f"{table.name}.{column.name}")
        after: Any = None
        while True:
            query = select(key, stored).where(column.is_not(None)).order_by(key).limit(batch)
            if after is not None:
                query = query.where(key > after)
            with engine.begin() as connection:
                rows = connection.execute(query).all()
                for row_key, value in rows:
                    source = sealed.key_id_of(value) or "clear"
                    if source == newest:
                        count.current += 1
                        continue
                    # str or bytes, as the column's type says: dynamic by nature
                    opened: Any = sealed.process_result_value(value, engine.dialect)
                    fresh = sealed.process_bind_param(opened, engine.dialect)
                    changed = connection.execute(
                        update(table)
                        .where(key == row_key, stored == type_coerce(value, stored_type))
                        .values({column.name: type_coerce(fresh, stored_type)})
                    ).rowcount
                    if changed:
                        count.resealed += 1
                        count.from_keys[source] = count.from_keys.get(source, 0) + 1
                    else:
                        count.skipped += 1
            if len(rows) < batch:
                break
            after = rows[-1][0]
        counts.append(count)
    return counts
