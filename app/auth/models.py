from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from app.db import UTCDateTime


class ApiKey(SQLModel, table=True):
    """An API key. Only a keyed hash of the secret is stored; the key is shown once."""

    __tablename__ = "api_keys"

    id: str = Field(primary_key=True, max_length=40)
    role: str = Field(max_length=16)
    client_id: str | None = Field(default=None, foreign_key="clients.id", index=True, max_length=40)
    name: str | None = Field(default=None, max_length=200)
    prefix: str = Field(max_length=16)
    key_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(sa_type=UTCDateTime)
    created_by: str | None = Field(default=None, max_length=40)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class BootstrapMarker(SQLModel, table=True):
    """Set once, by the first process that starts on an empty database (and prints the key)."""

    __tablename__ = "bootstrap_markers"

    name: str = Field(primary_key=True, max_length=64)
    done_at: datetime = Field(sa_type=UTCDateTime)
