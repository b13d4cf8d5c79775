"""The audit log (SPEC §10): one entry per successful write, chained by SHA-256."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Text
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime

# The chain's first `prev_hash`: nothing came before.
GENESIS = "0" * 64


class AuditLogEntry(SQLModel, table=True):
    """Append-only: written in the transaction of the change it records, never updated."""

    __tablename__ = "audit_log"

    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    created_at: datetime = Field(sa_type=UTCDateTime, index=True)
    request_id: str | None = Field(default=None, max_length=100)
    key_id: str | None = Field(default=None, max_length=40, index=True)
    role: str = Field(max_length=16)
    contact_id: str | None = Field(default=None, max_length=40)
    client_id: str | None = Field(default=None, max_length=40, index=True)
    method: str = Field(max_length=10)
    route: str = Field(max_length=300)
    status_code: int
    resource_ids: dict[str, str] = Field(sa_column=Column(JSON, nullable=False))
    # Space-separated, with a space at each end: a filter by one id is a LIKE on " id ".
    resources: str = Field(sa_column=Column(Text, nullable=False))
    summary: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AuditLogHead(SQLModel, table=True):
    """The chain's head, one row: locking it serialises appends across processes, and it tells
    `verify` how long the chain must be (a deleted last entry is noticed)."""

    __tablename__ = "audit_log_head"

    id: int = Field(primary_key=True)
    seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    hash: str = Field(max_length=64)
