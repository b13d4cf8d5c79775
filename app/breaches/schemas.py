from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.bounds import Moment
from app.notices.schemas import NotifiedVia


class Nature(StrEnum):
    confidentiality = "confidentiality"
    integrity = "integrity"
    availability = "availability"


class BreachStatus(StrEnum):
    suspected = "suspected"
    confirmed = "confirmed"
    contained = "contained"
    closed = "closed"


class Art33Content(BaseModel):
    """GDPR Art. 33(3): what the notice must describe, as far as known (Art. 33(4): the rest
    may follow in phases)."""

    data_subject_categories: list[str] = Field(
        default_factory=list, max_length=50, examples=[["customers", "newsletter subscribers"]]
    )
    approx_data_subjects: int | None = Field(None, ge=0, examples=[1200])
    record_categories: list[str] = Field(
        default_factory=list, max_length=50, examples=[["e-mail addresses", "order history"]]
    )
    approx_records: int | None = Field(None, ge=0, examples=[5400])
    likely_consequences: str | None = Field(None, max_length=10_000)
    measures_taken: str | None = Field(None, max_length=10_000)
    measures_proposed: str | None = Field(None, max_length=10_000)


class BreachReport(Art33Content):
    """A breach and what is known of it (Art. 33(3))."""

    model_config = ConfigDict(extra="forbid")

    aware_at: Moment = Field(
        description="When SCR became aware; the 72 hours run from here. May be in the past."
    )
    occurred_at: Moment | None = Field(None, description="When it happened, if known.")
    nature: list[Nature] = Field(min_length=1, max_length=3)
    description: str = Field(min_length=1, max_length=20_000)
    status: BreachStatus = Field(
        BreachStatus.suspected, description="Suspected breaches are notified too (seed §2.6)."
    )
    contact_point: str = Field(
        min_length=1, max_length=500, description="Art. 33(3)(b): who answers questions."
    )

    @field_validator("status")
    @classmethod
    def _open(cls, value: BreachStatus) -> BreachStatus:
        if value is BreachStatus.closed:
            raise ValueError("a breach is recorded open; close it with POST …/close")
        return value


class BreachCreate(BreachReport):
    """A breach at SCR (or its sub-processors) affecting these clients' data."""

    client_ids: list[str] = Field(min_length=1, max_length=10_000, description="Affected clients.")

    @field_validator("client_ids")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))


class BreachUpdateCreate(Art33Content):
    """Only the fields sent change; `note` says what is new."""

    model_config = ConfigDict(extra="forbid")

    status: BreachStatus | None = None
    description: str | None = Field(None, min_length=1, max_length=20_000)
    note: str | None = Field(None, max_length=10_000)

    @field_validator("status")
    @classmethod
    def _not_closed(cls, value: BreachStatus | None) -> BreachStatus | None:
        if value is BreachStatus.closed:
            raise ValueError("close a breach with POST …/close")
        return value


class Acknowledge(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client_id: str | None = Field(
        None, max_length=40, description="Staff only: the client on whose behalf."
    )


class DelayReason(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client_id: str = Field(max_length=40)
    reason: str = Field(
        min_length=1, max_length=10_000, description="Why the 72 hours were missed (CNIL asks)."
    )


class NoticePublic(BaseModel):
    client_id: str
    state: Literal["pending", "notified"] = Field(
        description="`notified` only once the notice reached the client (SPEC §8.4)."
    )
    notify_deadline: datetime
    seconds_to_notify_deadline: int = Field(description="Negative once the deadline has passed.")
    notified_at: datetime | None = Field(
        description="The first of: a 2xx from one of the client's endpoints, the client's "
        "contacts' mail server accepting the e-mail, the client's acknowledgement."
    )
    notified_via: NotifiedVia | None
    controller_deadline: datetime | None = Field(
        description="notified_at + 72 h: the client's own deadline towards its authority."
    )
    late_against_event: bool = Field(
        description="Reached the client after event_deadline (seed §2.6: 72 hours following "
        "the event); closing then needs a reason for the delay."
    )
    acknowledged_at: datetime | None
    escalated_at: datetime | None
    deadline_missed_at: datetime | None
    delay_reason: str | None


class BreachPublic(Art33Content):
    id: str = Field(examples=["brc_01jd3k4m5n6p7q8r9s0t1v2w3x"])
    aware_at: datetime
    occurred_at: datetime | None
    nature: list[Nature]
    description: str
    status: BreachStatus
    contact_point: str
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    reported_by_client_id: str | None = Field(
        description="Set when the client reported it to SCR; null: SCR notified its clients."
    )
    event_deadline: datetime | None = Field(
        default=None,
        description="occurred_at + 72 h, when occurred_at is known (seed §2.6: 72 hours "
        "following the event). The timer itself runs on aware_at (Art. 33).",
    )
    staff_acknowledged_at: datetime | None = Field(
        description="When SCR staff acknowledged a client's report."
    )
    notices: list[NoticePublic] = Field(
        description="One per affected client; a client key sees only its own."
    )


class TimelineEntry(BaseModel):
    at: datetime
    kind: str = Field(
        description="event; delivery (one per endpoint, `outcome` its status); attempt; email"
    )
    event_id: str = Field(description="The event, or for an e-mail its attempt id.")
    event_type: str
    client_id: str | None
    endpoint_id: str | None = None
    outcome: str | None = None
    status_code: int | None = None
    error: str | None = None


class DisclosureStatus(StrEnum):
    """held: the law forbids telling the client; pending: told, not yet received (no 2xx,
    accepted e-mail or acknowledgement yet); notified."""

    held = "held"
    pending = "pending"
    notified = "notified"


class DisclosureCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    authority: str = Field(min_length=1, max_length=300, examples=["Police judiciaire, Paris"])
    reference: str | None = Field(None, max_length=200, examples=["PV 2026/1234"])
    received_at: Moment
    legally_binding: bool
    data_requested: str = Field(min_length=1, max_length=10_000)
    notification_prohibited: bool = Field(
        False, description="The law or a decision forbids telling the client (seed §2.5)."
    )
    prohibition_legal_basis: str | None = Field(
        None, max_length=1000, description="Required when notification_prohibited."
    )

    @model_validator(mode="after")
    def _basis(self) -> DisclosureCreate:
        if self.notification_prohibited and not self.prohibition_legal_basis:
            raise ValueError("prohibition_legal_basis is required when notification is prohibited")
        return self


class DisclosurePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str = Field(examples=["dis_01jd3k4m5n6p7q8r9s0t1v2w3x"])
    client_id: str
    authority: str
    reference: str | None
    received_at: datetime
    legally_binding: bool
    data_requested: str
    notification_prohibited: bool
    prohibition_legal_basis: str | None
    status: DisclosureStatus
    notified_at: datetime | None = Field(
        description="When the notice reached the client (SPEC §8.4); null while pending."
    )
    prohibition_lifted_at: datetime | None
    created_at: datetime
