"""Idempotency-Key on every POST (SPEC §3): the first successful response is stored in the same
transaction as the change it made, so a retry can neither repeat the change nor lose the answer."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta

from sqlalchemy import Engine, UniqueConstraint, delete
from sqlmodel import Field, Session, SQLModel, col, select

from app.crypto import SealedBytes
from app.db import UTCDateTime, affected
from app.errors import RuleViolation

MAX_KEY_LENGTH = 255
# How long a key is remembered: a client retrying within a week gets the first answer.
RETENTION = timedelta(days=7)


class IdempotencyRecord(SQLModel, table=True):
    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("scope", "idempotency_key"),)

    id: int | None = Field(default=None, primary_key=True)
    scope: str = Field(
        max_length=64,
        description="The authenticated API key's id: the same Idempotency-Key from two API keys "
        "are two keys.",
    )
    idempotency_key: str = Field(max_length=MAX_KEY_LENGTH)
    fingerprint: str = Field(max_length=64)
    status_code: int
    # Sealed at rest (app.crypto): answers carry shown-once API keys and signing secrets.
    response_body: bytes = Field(sa_type=SealedBytes("idempotent-answer"))
    response_headers: str
    created_at: datetime = Field(sa_type=UTCDateTime)


def fingerprint_of(method: str, path: str, query: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), query.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def check_key(key: str) -> None:
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise RuleViolation(
            "idempotency-key-format",
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable characters.",
        )


def find(session: Session, scope: str, key: str, fingerprint: str) -> IdempotencyRecord | None:
    record = session.exec(
        select(IdempotencyRecord).where(
            IdempotencyRecord.scope == scope, IdempotencyRecord.idempotency_key == key
        )
    ).first()
    if record is not None and record.fingerprint != fingerprint:
        raise RuleViolation(
            "idempotency-key-reuse",
            "This Idempotency-Key was already used with a different request; "
            "use a new key for a new request.",
        )
    return record


def remember(
    session: Session,
    *,
    scope: str,
    key: str,
    fingerprint: str,
    status_code: int,
    body: bytes,
    headers: dict[str, str],
    now: datetime,
) -> None:
    session.add(
        IdempotencyRecord(
            scope=scope,
            idempotency_key=key,
            fingerprint=fingerprint,
            status_code=status_code,
            response_body=body,
            response_headers=json.dumps(headers),
            created_at=now,
        )
    )
    session.flush()


def purge(engine: Engine, now: datetime) -> int:
    """Forget keys older than RETENTION (the worker runs this hourly)."""
    with Session(engine) as session:
        gone = affected(
            session.execute(
                delete(IdempotencyRecord).where(col(IdempotencyRecord.created_at) < now - RETENTION)
            )
        )
        session.commit()
    return gone
