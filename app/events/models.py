from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, text
from sqlmodel import Field, SQLModel

from app.crypto import SealedText
from app.db import UTCDateTime


class Event(SQLModel, table=True):
    """Something a client (`client_id`) or SCR staff (`client_id` null) must know of. Written
    in the same transaction as the change it reports (transactional outbox)."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_client_created", "client_id", "created_at"),)

    id: str = Field(primary_key=True, max_length=40)
    type: str = Field(max_length=64, index=True)
    client_id: str | None = Field(default=None, foreign_key="clients.id", max_length=40)
    subject: str = Field(max_length=80, index=True)
    data: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    urgent: bool
    created_at: datetime = Field(sa_type=UTCDateTime, index=True)
    only_endpoint_id: str | None = Field(
        default=None, max_length=40, description="Set for a test ping: one endpoint only."
    )


class WebhookEndpoint(SQLModel, table=True):
    __tablename__ = "webhook_endpoints"

    id: str = Field(primary_key=True, max_length=40)
    client_id: str | None = Field(default=None, foreign_key="clients.id", index=True, max_length=40)
    url: str = Field(max_length=2000)
    description: str | None = Field(default=None, max_length=500)
    contact_id: str | None = Field(default=None, foreign_key="contacts.id", max_length=40)
    event_types: list[str] = Field(sa_column=Column(JSON, nullable=False))
    enabled: bool = True
    disabled_reason: str | None = Field(default=None, max_length=500)
    # Sealed at rest (app.crypto): the database alone never shows a signing secret.
    secret: str = Field(sa_type=SealedText(300, "webhook-secret"))
    previous_secret: str | None = Field(
        default=None,
        sa_type=SealedText(300, "webhook-secret"),
    )
    previous_secret_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


_PENDING = "status = 'pending'"


class Delivery(SQLModel, table=True):
    """One event to one endpoint: a row with a due time, claimed by a worker with a lease."""

    __tablename__ = "deliveries"
    __table_args__ = (
        # The due-work query: pending rows by due time (SPEC §11: ≤ 5 ms with 1,000,000 rows).
        Index(
            "ix_deliveries_due",
            "next_attempt_at",
            sqlite_where=text(_PENDING),
            postgresql_where=text(_PENDING),
        ),
        Index("ix_deliveries_event", "event_id", "endpoint_id", unique=True),
        Index("ix_deliveries_endpoint_created", "endpoint_id", "created_at"),
    )

    id: str = Field(primary_key=True, max_length=40)
    event_id: str = Field(foreign_key="events.id", max_length=40)
    endpoint_id: str = Field(foreign_key="webhook_endpoints.id", max_length=40)
    status: str = Field(max_length=16, description="pending, delivered or failed")
    urgent: bool
    attempt_count: int = 0
    retry_index: int = 0
    next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    lease_owner: str | None = Field(default=None, max_length=80)
    lease_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    first_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, max_length=500)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)


class DeliveryAttempt(SQLModel, table=True):
    __tablename__ = "delivery_attempts"
    __table_args__ = (
        Index("ix_delivery_attempts_event", "event_id", "attempted_at"),
        Index("ix_delivery_attempts_endpoint", "endpoint_id", "attempted_at"),
    )

    id: str = Field(primary_key=True, max_length=40)
    delivery_id: str = Field(foreign_key="deliveries.id", index=True, max_length=40)
    event_id: str = Field(max_length=40)
    endpoint_id: str = Field(max_length=40)
    number: int
    worker: str = Field(max_length=80, description="The worker process that made the attempt.")
    attempted_at: datetime = Field(sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)
    outcome: str = Field(max_length=16, description="success, failure or interrupted")
    status_code: int | None = None
    duration_ms: int
    error: str | None = Field(default=None, max_length=500)
    response_excerpt: str | None = Field(default=None, sa_column=Column(Text))
    next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Timer(SQLModel, table=True):
    """A rule's due time (a reminder, a deadline), fired once by whichever worker claims it."""

    __tablename__ = "timers"
    __table_args__ = (
        Index(
            "ix_timers_due", "due_at", sqlite_where=text(_PENDING), postgresql_where=text(_PENDING)
        ),
        Index("ix_timers_subject", "subject", "kind"),
    )

    id: str = Field(primary_key=True, max_length=40)
    kind: str = Field(max_length=64)
    subject: str = Field(max_length=80)
    client_id: str | None = Field(default=None, max_length=40)
    due_at: datetime = Field(sa_type=UTCDateTime)
    status: str = Field(max_length=16, description="pending, fired, cancelled or failed")
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    lease_owner: str | None = Field(default=None, max_length=80)
    lease_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    fired_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    cancelled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    error: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(sa_type=UTCDateTime)


class EmailAttempt(SQLModel, table=True):
    """The e-mail fallback's attempts, logged like webhook attempts (SPEC §8.1)."""

    __tablename__ = "email_attempts"

    id: str = Field(primary_key=True, max_length=40)
    subject: str = Field(max_length=80, index=True, description="The record it is about.")
    client_id: str | None = Field(default=None, max_length=40)
    recipients: list[str] = Field(sa_column=Column(JSON, nullable=False))
    title: str = Field(max_length=300)
    attempted_at: datetime = Field(sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)
    outcome: str = Field(max_length=16, description="success or failure")
    error: str | None = Field(default=None, max_length=500)
