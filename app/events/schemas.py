from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.events.types import ALL, EVENT_TYPES, AttemptOutcome, DeliveryStatus


def _check_event_types(value: list[str]) -> list[str]:
    unknown = [item for item in value if item != ALL and item not in EVENT_TYPES]
    if unknown:
        raise ValueError(f'unknown event types {unknown}; use ["*"] or names from /v1/event-types')
    if ALL in value and len(value) > 1:
        raise ValueError('"*" already means every type; send it alone')
    return list(dict.fromkeys(value))


class EndpointCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client_id: str | None = Field(
        None,
        max_length=40,
        description=(
            "The owner. A client key may leave it out (its own client). With a staff key, "
            "leave it out or null for SCR staff's own receiver."
        ),
    )
    url: str = Field(
        max_length=2000,
        examples=["https://dpo.example.fr/webhooks/dpa"],
        description="https, no credentials, a public address.",
    )
    description: str | None = Field(None, max_length=500)
    contact_id: str | None = Field(
        None, max_length=40, description="The client's contact who answers this receiver."
    )
    event_types: list[str] = Field(
        default_factory=lambda: [ALL],
        min_length=1,
        max_length=len(EVENT_TYPES),
        examples=[["breach.notified", "breach.reminder"]],
    )
    enabled: bool = True

    _types = field_validator("event_types")(_check_event_types)


class EndpointUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(None, max_length=2000)
    description: str | None = Field(None, max_length=500)
    contact_id: str | None = Field(None, max_length=40)
    event_types: list[str] | None = Field(None, min_length=1, max_length=len(EVENT_TYPES))
    enabled: bool | None = None

    @field_validator("event_types")
    @classmethod
    def _types(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _check_event_types(value)


class EndpointPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str = Field(examples=["whe_01jd3k4m5n6p7q8r9s0t1v2w3x"])
    client_id: str | None = Field(description="null: SCR staff's own receiver.")
    url: str
    description: str | None
    contact_id: str | None
    event_types: list[str]
    enabled: bool
    disabled_reason: str | None
    previous_secret_expires_at: datetime | None = Field(
        description="Until then the previous secret signs too (24 h after a rotation)."
    )
    created_at: datetime
    updated_at: datetime


class EndpointWithSecret(EndpointPublic):
    secret: str = Field(
        description="The signing secret (`whsec_…`), for a Standard Webhooks library. Store it."
    )


class EventPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str = Field(examples=["evt_01jd3k4m5n6p7q8r9s0t1v2w3x"])
    type: str
    created_at: datetime
    client_id: str | None = Field(description="Whom it is for; null: SCR staff.")
    subject: str = Field(description="The id of the record it is about.")
    urgent: bool
    data: dict[str, Any]


class DeliveryPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    event_id: str
    endpoint_id: str
    status: DeliveryStatus
    attempt_count: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime


class AttemptPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    delivery_id: str
    event_id: str
    endpoint_id: str
    number: int
    worker: str
    attempted_at: datetime
    created_at: datetime
    outcome: AttemptOutcome = Field(
        description=(
            "`interrupted`: the worker stopped (a crash, a kill) before it recorded an answer, "
            "so the receiver may have the message; it is sent again with the same webhook-id"
        )
    )
    status_code: int | None
    duration_ms: int
    error: str | None
    response_excerpt: str | None = Field(description="The first 4 KB of the receiver's answer.")
    next_attempt_at: datetime | None


class RecoverResult(BaseModel):
    requeued: int = Field(description="Failed deliveries queued again.")


class EventTypeInfo(BaseModel):
    type: str
    urgent: bool
