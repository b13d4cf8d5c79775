"""The event contract (SPEC §9): one model per event type's `data`, what a receiver can rely on.

`emit()` validates every payload against its type's model, so an event that leaves its schema
cannot be sent; the models are published in the OpenAPI document's `webhooks` section (one entry
per type, the Standard Webhooks body around the `data`), so a receiver can generate its types.
Fields that only one audience's copy carries (the client's `client_id`, staff's
`reported_by_client_id`) are optional and say so."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.audits.schemas import AuditKind, AuditStatus
from app.breaches.schemas import BreachStatus
from app.events.types import EVENT_TYPES
from app.instructions.schemas import InstructionStatus
from app.security_exceptions.schemas import ExceptionStatus
from app.subject_requests.schemas import DsrKind, DsrStatus
from app.subprocessors.schemas import ChangeKind


class Payload(BaseModel):
    # A field nobody declared is a drift between the code that emits and the contract: refused.
    model_config = ConfigDict(extra="forbid")


# --- breaches (seed §2.6, Art. 33(3)) ----------------------------------------------------


class BreachContent(Payload):
    breach_id: str = Field(examples=["brc_01jd3k4m5n6p7q8r9s0t1v2w3x"])
    status: BreachStatus = Field(examples=["suspected"])
    nature: list[str] = Field(examples=[["confidentiality"]])
    description: str
    aware_at: datetime
    occurred_at: datetime | None
    contact_point: str
    data_subject_categories: list[str]
    approx_data_subjects: int | None
    record_categories: list[str]
    approx_records: int | None
    likely_consequences: str | None
    measures_taken: str | None
    measures_proposed: str | None
    notify_deadline: datetime = Field(description="The 72-hour deadline (seed §2.6).")
    client_id: str | None = Field(
        None, description="The client told (its copy); absent from SCR staff's copy."
    )
    reported_by_client_id: str | None = Field(
        None, description="For a breach a client reported to SCR (staff's copy)."
    )


class BreachNotified(BreachContent):
    client_id: str


class BreachUpdated(BreachContent):
    changes: dict[str, Any] = Field(description="Each changed field: its old and new value.")
    note: str | None = None


class BreachReminder(BreachContent):
    reminder_hours_after_aware: int


class BreachClosed(BreachContent):
    closed_at: datetime


class BreachReported(BreachContent):
    reported_by_client_id: str | None


class BreachAcknowledged(Payload):
    breach_id: str
    client_id: str | None
    acknowledged_at: datetime
    acknowledged_by: str | None = Field(None, description="`SCR` when staff acknowledged.")
    acknowledged_by_contact: str | None = Field(
        None, description="The contact who acknowledged through an e-mailed link."
    )


class BreachDeadlineMissed(Payload):
    breach_id: str
    client_id: str
    notify_deadline: datetime
    aware_at: datetime


class Escalation(Payload):
    """To SCR staff: a notice no channel got through in time (SPEC §8.4)."""

    client_id: str
    notice_id: str
    notice_kind: str
    event_type: str
    reason: str
    notify_deadline: datetime | None = None
    breach_id: str | None = None
    audit_id: str | None = None
    change_id: str | None = None
    disclosure_request_id: str | None = None
    instruction_id: str | None = None
    reported_by_client_id: str | None = None


class DisclosureReceived(Payload):
    disclosure_request_id: str
    client_id: str
    authority: str
    reference: str | None
    received_at: datetime
    legally_binding: bool
    data_requested: str


# --- instructions, exceptions, data-subject requests ---------------------------------------


class InstructionMessage(Payload):
    instruction_id: str
    client_id: str
    version: int
    status: InstructionStatus
    complete: bool
    missing: list[str]
    reason: str | None = Field(None, description="Why SCR objects (instruction.objected).")


class ExceptionMessage(Payload):
    security_exception_id: str
    client_id: str
    status: ExceptionStatus
    nature: str
    starts_at: datetime
    ends_at: datetime
    reason: str | None = Field(None, description="SCR's decision's reason.")


class DsrMessage(Payload):
    data_subject_request_id: str
    client_id: str
    kind: DsrKind
    subject_ref: str
    due_at: datetime
    status: DsrStatus
    evidence: str | None = Field(None, description="How it was done (completed).")


# --- sub-processors (seed §2.8) -------------------------------------------------------------


class SubProcessorRef(Payload):
    id: str
    name: str
    service: str
    processing_countries: list[str]


class ChangeMessage(Payload):
    change_id: str
    client_id: str
    kind: ChangeKind
    description: str
    effective_date: date
    objection_deadline: datetime | None = Field(
        description="Counted from the notice's arrival; null until it arrives."
    )
    requires_approval: bool
    subprocessors: list[SubProcessorRef]
    objection_window_days: int | None = None
    reason: str | None = None
    answered_by_contact: str | None = None


# --- audits (seed §2.5) ------------------------------------------------------------------


class AuditMessage(Payload):
    audit_id: str
    client_id: str
    kind: AuditKind
    status: AuditStatus
    proposed_start: date
    proposed_end: date
    earliest_start: date
    emergency_basis: str
    scheduled_start: date | None
    scheduled_end: date | None
    reason: str | None = Field(None, description="Why SCR rejected it (audit.rejected).")


# --- the engine ---------------------------------------------------------------------------


class EndpointDisabled(Payload):
    endpoint_id: str
    client_id: str | None
    url: str
    reason: str
    disabled_at: datetime


class WebhookTest(Payload):
    endpoint_id: str | None = None
    message: str | None = None
    fired_at: datetime | None = None


MODELS: dict[str, type[Payload]] = {
    "breach.notified": BreachNotified,
    "breach.updated": BreachUpdated,
    "breach.reminder": BreachReminder,
    "breach.acknowledged": BreachAcknowledged,
    "breach.escalated": Escalation,
    "breach.deadline_missed": BreachDeadlineMissed,
    "breach.reported": BreachReported,
    "breach.closed": BreachClosed,
    "disclosure_request.received": DisclosureReceived,
    "instruction.received": InstructionMessage,
    "instruction.acknowledged": InstructionMessage,
    "instruction.objected": InstructionMessage,
    "security_exception.requested": ExceptionMessage,
    "security_exception.approved": ExceptionMessage,
    "security_exception.rejected": ExceptionMessage,
    "security_exception.ending_soon": ExceptionMessage,
    "security_exception.ended": ExceptionMessage,
    "data_subject_request.received": DsrMessage,
    "data_subject_request.reminder": DsrMessage,
    "data_subject_request.completed": DsrMessage,
    "data_subject_request.overdue": DsrMessage,
    "subprocessor.change_notice": ChangeMessage,
    "subprocessor.objection": ChangeMessage,
    "subprocessor.approval": ChangeMessage,
    "subprocessor.objection_deadline_soon": ChangeMessage,
    "audit.requested": AuditMessage,
    "audit.accepted": AuditMessage,
    "audit.rejected": AuditMessage,
    "audit.scheduled": AuditMessage,
    "audit.reminder": AuditMessage,
    "audit.completed": AuditMessage,
    "audit.cancelled": AuditMessage,
    "notice.escalated": Escalation,
    "endpoint.disabled": EndpointDisabled,
    "webhook.test": WebhookTest,
}
assert set(MODELS) == set(EVENT_TYPES), set(EVENT_TYPES) ^ set(MODELS)


_BREACH: dict[str, Any] = {
    "breach_id": "brc_01jd3k4m5n6p7q8r9s0t1v2w3x",
    "status": "suspected",
    "nature": ["confidentiality"],
    "description": "Database dump exposed on a misconfigured bucket.",
    "aware_at": "2026-03-02T09:00:00+00:00",
    "occurred_at": None,
    "contact_point": "SCR security desk, +33 1 00 00 00 00",
    "data_subject_categories": ["customers"],
    "approx_data_subjects": 1200,
    "record_categories": ["e-mail addresses"],
    "approx_records": 5400,
    "likely_consequences": "Phishing against customers.",
    "measures_taken": "Credentials rotated.",
    "measures_proposed": "Warn customers.",
    "notify_deadline": "2026-03-05T09:00:00+00:00",
    "client_id": "cli_01jd3k4m5n6p7q8r9s0t1v2w3x",
}
_CLIENT = "cli_01jd3k4m5n6p7q8r9s0t1v2w3x"
_ESCALATION = {
    "client_id": _CLIENT,
    "notice_id": "ntc_01jd3k4m5n6p7q8r9s0t1v2w3x",
    "notice_kind": "breach",
    "event_type": "breach.notified",
    "reason": "no endpoint of the client answered 2xx within the escalation delay",
    "breach_id": _BREACH["breach_id"],
    "notify_deadline": _BREACH["notify_deadline"],
}
_AUDIT = {
    "audit_id": "aud_01jd3k4m5n6p7q8r9s0t1v2w3x",
    "client_id": _CLIENT,
    "kind": "on_site",
    "status": "scheduled",
    "proposed_start": "2026-04-15",
    "proposed_end": "2026-04-17",
    "earliest_start": "2026-04-15",
    "emergency_basis": "none",
    "scheduled_start": "2026-04-20",
    "scheduled_end": "2026-04-21",
}
_CHANGE = {
    "change_id": "spc_01jd3k4m5n6p7q8r9s0t1v2w3x",
    "client_id": _CLIENT,
    "kind": "addition",
    "description": "A new mailing provider.",
    "effective_date": "2026-05-01",
    "objection_deadline": "2026-04-16T21:59:59+00:00",
    "requires_approval": False,
    "subprocessors": [
        {
            "id": "spr_01jd3k4m5n6p7q8r9s0t1v2w3x",
            "name": "Brevo",
            "service": "Mailing",
            "processing_countries": ["FR"],
        }
    ],
}
EXAMPLES: dict[type[Payload], dict[str, Any]] = {
    BreachNotified: _BREACH,
    BreachUpdated: {**_BREACH, "changes": {"approx_records": [5400, 6000]}, "note": "Scope."},
    BreachReminder: {**_BREACH, "reminder_hours_after_aware": 24},
    BreachClosed: {**_BREACH, "status": "closed", "closed_at": "2026-03-10T09:00:00+00:00"},
    BreachReported: {
        **{k: v for k, v in _BREACH.items() if k != "client_id"},
        "reported_by_client_id": _CLIENT,
    },
    BreachAcknowledged: {
        "breach_id": _BREACH["breach_id"],
        "client_id": _CLIENT,
        "acknowledged_at": "2026-03-02T10:00:00+00:00",
    },
    BreachDeadlineMissed: {
        "breach_id": _BREACH["breach_id"],
        "client_id": _CLIENT,
        "notify_deadline": _BREACH["notify_deadline"],
        "aware_at": _BREACH["aware_at"],
    },
    Escalation: _ESCALATION,
    DisclosureReceived: {
        "disclosure_request_id": "dsc_01jd3k4m5n6p7q8r9s0t1v2w3x",
        "client_id": _CLIENT,
        "authority": "Police nationale",
        "reference": "PV 2026/123",
        "received_at": "2026-03-02T09:00:00+00:00",
        "legally_binding": True,
        "data_requested": "Access logs of March 2026",
    },
    InstructionMessage: {
        "instruction_id": "ins_01jd3k4m5n6p7q8r9s0t1v2w3x",
        "client_id": _CLIENT,
        "version": 2,
        "status": "current",
        "complete": True,
        "missing": [],
    },
    ExceptionMessage: {
        "security_exception_id": "sex_01jd3k4m5n6p7q8r9s0t1v2w3x",
        "client_id": _CLIENT,
        "status": "approved",
        "nature": "Unencrypted export for a migration",
        "starts_at": "2026-04-01T00:00:00+00:00",
        "ends_at": "2026-04-02T00:00:00+00:00",
    },
    DsrMessage: {
        "data_subject_request_id": "dsr_01jd3k4m5n6p7q8r9s0t1v2w3x",
        "client_id": _CLIENT,
        "kind": "erasure",
        "subject_ref": "customer 4711",
        "due_at": "2026-04-01T00:00:00+00:00",
        "status": "open",
    },
    ChangeMessage: _CHANGE,
    AuditMessage: _AUDIT,
    EndpointDisabled: {
        "endpoint_id": "whe_01jd3k4m5n6p7q8r9s0t1v2w3x",
        "client_id": _CLIENT,
        "url": "https://hooks.example.com/dpa",
        "reason": "the receiver answered 410 Gone",
        "disabled_at": "2026-03-02T09:00:00+00:00",
    },
    WebhookTest: {
        "endpoint_id": "whe_01jd3k4m5n6p7q8r9s0t1v2w3x",
        "message": "Test message from dpa-service.",
    },
}


def example(event_type: str) -> dict[str, Any]:
    """A valid `data` for the type (documentation, and tests that need any event of a type)."""
    return dict(EXAMPLES[MODELS[event_type]])


class PayloadError(ValueError):
    """An event whose data leaves its type's schema: a bug in the code that emits it."""


def check(event_type: str, data: dict[str, Any]) -> None:
    try:
        MODELS[event_type].model_validate(data)
    except ValueError as exc:  # pydantic.ValidationError is a ValueError
        raise PayloadError(f"{event_type} payload leaves its schema: {exc}") from exc
