"""Reading the audit log: staff see every entry, a client key the entries about its client."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from app.auditlog import chain
from app.auditlog.models import AuditLogEntry
from app.auth.principal import Principal, scoped
from app.pagination import unknown_cursor


def list_entries(
    session: Session,
    principal: Principal,
    *,
    limit: int,
    cursor: str | None,
    client_id: str | None,
    resource_id: str | None,
    key_id: str | None,
    created_after: datetime | None,
    created_before: datetime | None,
) -> tuple[list[AuditLogEntry], str | None]:
    """Newest first; `next_cursor` continues with older entries."""
    statement = scoped(select(AuditLogEntry), principal, AuditLogEntry.client_id)
    if client_id is not None:
        statement = statement.where(AuditLogEntry.client_id == client_id)
    if resource_id is not None:
        statement = statement.where(
            col(AuditLogEntry.resources).contains(f" {resource_id} ", autoescape=True)
        )
    if key_id is not None:
        statement = statement.where(AuditLogEntry.key_id == key_id)
    if created_after is not None:
        statement = statement.where(AuditLogEntry.created_at >= created_after)
    if created_before is not None:
        statement = statement.where(AuditLogEntry.created_at < created_before)
    if cursor is not None:
        statement = statement.where(AuditLogEntry.seq < _decode(cursor))
    rows = list(session.exec(statement.order_by(col(AuditLogEntry.seq).desc()).limit(limit + 1)))
    if len(rows) <= limit:
        return rows, None
    return rows[:limit], _encode(rows[limit - 1].seq)


def verify(session: Session) -> chain.Verification:
    return chain.verify(session.connection())


def _encode(seq: int) -> str:
    return base64.urlsafe_b64encode(f"seq:{seq}".encode()).decode().rstrip("=")


def _decode(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, number = raw.partition(":")
        if prefix != "seq" or not number.isdigit() or len(number) > 18:
            raise ValueError
        return int(number)
    except (ValueError, UnicodeDecodeError, binascii.Error) as exc:
        raise unknown_cursor() from exc


def as_dict(result: chain.Verification, now: datetime) -> dict[str, Any]:
    return {**result.__dict__, "verified_at": now}
