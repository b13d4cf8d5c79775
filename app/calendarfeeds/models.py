from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from app.db import UTCDateTime


class CalendarFeed(SQLModel, table=True):
    """A client's deadline calendar (SPEC §10). The token in its URL is the credential (calendar
    apps send no Authorization header): shown once, stored only as a keyed hash, revocable."""

    __tablename__ = "calendar_feeds"

    id: str = Field(primary_key=True, max_length=40)
    client_id: str = Field(foreign_key="clients.id", index=True, max_length=40)
    name: str | None = Field(default=None, max_length=200)
    token_hash: str = Field(max_length=64, unique=True)
    created_by: str = Field(max_length=40)
    created_at: datetime = Field(sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class CalendarSequence(SQLModel, table=True):
    """The iCalendar SEQUENCE of one feed event (RFC 5545 §3.8.7.4): raised each time the
    event's time is seen to have moved, so calendar apps replace the old occurrence."""

    __tablename__ = "calendar_sequences"

    uid: str = Field(primary_key=True, max_length=120)
    moment: str = Field(max_length=100)
    sequence: int = 0
