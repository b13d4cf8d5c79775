from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime


class Notice(SQLModel, table=True):
    """One message that carries a duty to inform one client (SPEC §8.4), and whether it reached
    the client. `notified_at` is set only by the fact it names: a 2xx from one of the client's
    endpoints, the client's contacts' mail server accepting the e-mail, or the client's
    acknowledgement — never by the intent to send."""

    __tablename__ = "notices"
    __table_args__ = (Index("ix_notices_subject_client", "subject", "client_id"),)

    id: str = Field(primary_key=True, max_length=40)
    kind: str = Field(max_length=32, description="The duty: breach, disclosure_request, …")
    subject: str = Field(max_length=80, description="The domain record the notice is about.")
    client_id: str = Field(foreign_key="clients.id", max_length=40)
    event_id: str = Field(foreign_key="events.id", max_length=40, unique=True)
    event_type: str = Field(max_length=64)
    urgent: bool
    escalation_type: str = Field(max_length=64)
    created_at: datetime = Field(sa_type=UTCDateTime)
    notified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    notified_via: str | None = Field(
        default=None, max_length=16, description="webhook, email or acknowledgement"
    )
    acknowledged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    acknowledged_by: str | None = Field(default=None, max_length=320)
    escalated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class NoticeLink(SQLModel, table=True):
    """The link an e-mailed notice carries for one contact (SPEC §8.4): single use, expiring,
    bound to that client, notice and contact. Only the token's keyed hash is stored."""

    __tablename__ = "notice_links"

    id: str = Field(primary_key=True, max_length=40)
    notice_id: str = Field(foreign_key="notices.id", index=True, max_length=40)
    client_id: str = Field(foreign_key="clients.id", max_length=40)
    contact_email: str = Field(max_length=320)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    used_action: str | None = Field(default=None, max_length=16)
