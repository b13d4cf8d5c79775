from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.bounds import Day


class AuditKind(StrEnum):
    documentary = "documentary"
    on_site = "on_site"
    penetration_test = "penetration_test"


class EmergencyBasis(StrEnum):
    none = "none"
    proven_breach = "proven_breach"
    probable_breach = "probable_breach"
    court_order = "court_order"


class AuditStatus(StrEnum):
    requested = "requested"
    pending_agreement = "pending_agreement"
    pending_verification = "pending_verification"
    accepted = "accepted"
    rejected = "rejected"
    scheduled = "scheduled"
    completed = "completed"
    cancelled = "cancelled"


class Auditor(BaseModel):
    model_config = ConfigDict(extra="forbid")

    organisation: str = Field(min_length=1, max_length=300, examples=["Cabinet Audit SA"])
    person: str | None = Field(None, max_length=200)
    independent: bool = Field(description="An independent auditor (not the client's staff).")


class AuditCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: AuditKind
    scope: str = Field(min_length=1, max_length=10_000)
    auditor: Auditor
    proposed_start: Day
    proposed_end: Day
    emergency_basis: EmergencyBasis = EmergencyBasis.none
    breach_id: str | None = Field(None, max_length=40, description="For a breach basis.")
    court_order_ref: str | None = Field(None, max_length=200, description="For a court order.")
    court_name: str | None = Field(None, max_length=300, description="The court that ordered it.")
    court_order_date: Day | None = Field(None, description="The date of the order.")

    @model_validator(mode="after")
    def _coherent(self) -> AuditCreate:
        if self.proposed_end < self.proposed_start:
            raise ValueError("proposed_end is before proposed_start")
        return self


class PentestAgreement(BaseModel):
    """Seed §2.5: vulnerability tests need the agreement of SCR, the client and the tester."""

    model_config = ConfigDict(extra="forbid")

    testing_organisation: str = Field(min_length=1, max_length=300)
    window_start: Day
    window_end: Day
    nature_of_tests: str = Field(min_length=1, max_length=10_000)
    liability_release: bool = Field(description="Must be true: the release is signed.")


class AuditSchedule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: Day
    end: Day
    pentest_agreement: PentestAgreement | None = Field(
        None, description="Required to schedule a penetration_test."
    )


class AuditDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(
        None, min_length=1, max_length=10_000, description="Required to reject."
    )
    court_name: str | None = Field(
        None, min_length=1, max_length=300, description="Verifying a court order: the court."
    )
    court_order_date: Day | None = Field(None, description="Verifying a court order: its date.")
    court_order_ref: str | None = Field(
        None, min_length=1, max_length=200, description="Verifying a court order: its reference."
    )


class AuditPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str = Field(examples=["aud_01jd3k4m5n6p7q8r9s0t1v2w3x"])
    client_id: str
    kind: AuditKind
    scope: str
    auditor_organisation: str
    auditor_person: str | None
    auditor_independent: bool
    proposed_start: date
    proposed_end: date
    emergency_basis: EmergencyBasis
    breach_id: str | None
    court_order_ref: str | None
    court_name: str | None
    court_order_date: date | None
    court_order_verified_at: datetime | None = Field(
        description="When SCR staff checked the order (a client's word alone is not enough)."
    )
    received_at: datetime
    earliest_start: date = Field(description="The first day the 30 working days' notice allows.")
    status: AuditStatus
    decision_reason: str | None
    scheduled_start: date | None
    scheduled_end: date | None
    testing_organisation: str | None
    test_window_start: date | None
    test_window_end: date | None
    nature_of_tests: str | None
    liability_release: bool | None
    created_at: datetime
    updated_at: datetime


class EarliestStart(BaseModel):
    received: date
    calendar: str
    notice_working_days: int
    notice_ends: date = Field(description="The last working day of the notice.")
    earliest_start: date


class WorkingDays(BaseModel):
    start: date
    calendar: str
    days: int
    working_days: list[date]
    end: date = Field(description="The last of them.")


class Holiday(BaseModel):
    date: date
    name: str
