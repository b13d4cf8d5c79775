"""The audit log's hash chain (SPEC §10): append in the change's transaction, verify from the
stored rows alone.

Each entry's hash is SHA-256 over the previous entry's hash, a newline, and the entry's
canonical JSON (every field but `hash`, keys sorted, no spaces, UTF-8, instants in RFC 3339
UTC with microseconds). Appends first take the head row's lock by advancing it, so with
several processes on PostgreSQL they are serialised and commit in chain order; on SQLite
writes are serialised anyway."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select, update
from sqlmodel import Session, col

from app.auditlog.models import GENESIS, AuditLogEntry, AuditLogHead

HEAD_ID = 1
# The fields each hash covers, in the canonical JSON (its keys are sorted anyway).
HASHED = (
    "seq",
    "created_at",
    "request_id",
    "key_id",
    "role",
    "contact_id",
    "client_id",
    "method",
    "route",
    "status_code",
    "resource_ids",
    "summary",
    "prev_hash",
)


def canonical(fields: dict[str, Any]) -> bytes:
    def instant(value: object) -> object:
        if isinstance(value, datetime):
            return value.astimezone(UTC).isoformat(timespec="microseconds")
        return value

    chosen = {name: instant(fields[name]) for name in HASHED}
    return json.dumps(chosen, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def hash_of(fields: dict[str, Any]) -> str:
    return hashlib.sha256(fields["prev_hash"].encode() + b"\n" + canonical(fields)).hexdigest()


@dataclass(frozen=True)
class Actor:
    """Who made a change: an API key (and its role), or a contact through an e-mailed link."""

    role: str
    key_id: str | None = None
    client_id: str | None = None
    contact_id: str | None = None


def append(
    session: Session,
    *,
    now: datetime,
    actor: Actor,
    method: str,
    route: str,
    status_code: int,
    resource_ids: dict[str, str],
    summary: dict[str, Any],
    request_id: str | None,
    client_id: str | None,
) -> AuditLogEntry:
    """Add one entry to the chain, in the session's transaction (committed with the change)."""
    connection = session.connection()
    # Advancing the head takes its row lock until commit: the next append waits for it.
    seq, prev_hash = connection.execute(
        update(AuditLogHead)
        .where(col(AuditLogHead.id) == HEAD_ID)
        .values(seq=col(AuditLogHead.seq) + 1)
        .returning(col(AuditLogHead.seq), col(AuditLogHead.hash))
    ).one()
    fields: dict[str, Any] = {
        "seq": seq,
        "created_at": now,
        "request_id": request_id,
        "key_id": actor.key_id,
        "role": actor.role,
        "contact_id": actor.contact_id,
        "client_id": client_id,
        "method": method,
        "route": route,
        "status_code": status_code,
        "resource_ids": resource_ids,
        "summary": summary,
        "prev_hash": prev_hash,
    }
    entry = AuditLogEntry(
        **fields,
        resources=" " + " ".join(sorted(set(resource_ids.values()))) + " ",
        hash=hash_of(fields),
    )
    connection.execute(
        update(AuditLogHead).where(col(AuditLogHead.id) == HEAD_ID).values(hash=entry.hash)
    )
    session.add(entry)
    return entry


OPERATOR = Actor(role="operator")


def append_operator(
    session: Session,
    now: datetime,
    command: str,
    resource_ids: dict[str, str],
    client_id: str | None = None,
) -> AuditLogEntry:
    """A change made on the host, not through the API (the CLI, the first start's staff key):
    method `CLI`, the command as the route, status 0."""
    return append(
        session,
        now=now,
        actor=OPERATOR,
        method="CLI",
        route=command,
        status_code=0,
        resource_ids=resource_ids,
        summary={},
        request_id=None,
        client_id=client_id,
    )


@dataclass(frozen=True)
class Verification:
    intact: bool
    entries: int
    head_hash: str
    broken_seq: int | None = None
    reason: str | None = None


def verify(connection: Connection, batch: int = 5000) -> Verification:
    """Recompute the chain from the stored entries; the first entry that does not follow from
    the one before (altered, missing, or reordered) is reported."""
    head_seq, head_hash = connection.execute(
        select(col(AuditLogHead.seq), col(AuditLogHead.hash)).where(col(AuditLogHead.id) == HEAD_ID)
    ).one()
    table = AuditLogEntry.__table__  # type: ignore[attr-defined]
    columns = [table.c[name] for name in (*HASHED, "hash")]
    expected_seq, previous, count = 1, GENESIS, 0
    while True:
        rows = connection.execute(
            select(*columns).where(table.c.seq >= expected_seq).order_by(table.c.seq).limit(batch)
        ).all()
        for row in rows:
            fields = row._asdict()
            if fields["seq"] != expected_seq:
                return Verification(
                    False, count, previous, expected_seq, f"entry {expected_seq} is missing"
                )
            if fields["prev_hash"] != previous:
                return Verification(
                    False,
                    count,
                    previous,
                    expected_seq,
                    f"entry {expected_seq} does not name entry {expected_seq - 1}'s hash",
                )
            if hash_of(fields) != fields["hash"]:
                return Verification(
                    False,
                    count,
                    previous,
                    expected_seq,
                    f"entry {expected_seq} was altered: its content does not match its hash",
                )
            previous, expected_seq, count = fields["hash"], expected_seq + 1, count + 1
        if len(rows) < batch:
            break
    if head_seq != count or head_hash != previous:
        return Verification(
            False,
            count,
            previous,
            count + 1,
            f"the chain ends at entry {count}, but {head_seq} entries were written "
            f"(entry {count + 1} onwards is missing)",
        )
    return Verification(True, count, previous)
