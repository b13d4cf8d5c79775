"""Event types (SPEC §9): what receivers switch on, and which are urgent. Timer kinds are
another thing (app/events/timers.py `TimerKind`): what the worker does at a due time."""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    """What receivers switch on (the `type` of every message); payloads: app/events/contract.py."""

    breach__notified = "breach.notified"
    breach__updated = "breach.updated"
    breach__reminder = "breach.reminder"
    breach__acknowledged = "breach.acknowledged"
    breach__escalated = "breach.escalated"
    breach__deadline_missed = "breach.deadline_missed"
    breach__reported = "breach.reported"
    breach__closed = "breach.closed"
    disclosure_request__received = "disclosure_request.received"
    instruction__received = "instruction.received"
    instruction__acknowledged = "instruction.acknowledged"
    instruction__objected = "instruction.objected"
    security_exception__requested = "security_exception.requested"
    security_exception__approved = "security_exception.approved"
    security_exception__rejected = "security_exception.rejected"
    security_exception__ending_soon = "security_exception.ending_soon"
    security_exception__ended = "security_exception.ended"
    data_subject_request__received = "data_subject_request.received"
    data_subject_request__reminder = "data_subject_request.reminder"
    data_subject_request__completed = "data_subject_request.completed"
    data_subject_request__overdue = "data_subject_request.overdue"
    subprocessor__change_notice = "subprocessor.change_notice"
    subprocessor__objection = "subprocessor.objection"
    subprocessor__approval = "subprocessor.approval"
    subprocessor__objection_deadline_soon = "subprocessor.objection_deadline_soon"
    audit__requested = "audit.requested"
    audit__accepted = "audit.accepted"
    audit__rejected = "audit.rejected"
    audit__scheduled = "audit.scheduled"
    audit__reminder = "audit.reminder"
    audit__completed = "audit.completed"
    audit__cancelled = "audit.cancelled"
    notice__escalated = "notice.escalated"
    endpoint__disabled = "endpoint.disabled"
    webhook__test = "webhook.test"


EVENT_TYPES: tuple[str, ...] = tuple(t.value for t in EventType)
ALL = "*"


def is_urgent(event_type: str) -> bool:
    """Seed §2.5 and §2.6, GDPR 28(3): breaches, disclosure requests and instruction objections."""
    return event_type.startswith("breach.") or event_type in {
        "disclosure_request.received",
        "instruction.objected",
        "notice.escalated",
        "data_subject_request.overdue",
    }


def subscribed(event_types: list[str], event_type: str) -> bool:
    return ALL in event_types or event_type in event_types


class DeliveryStatus(StrEnum):
    """One event to one endpoint: pending until a 2xx (delivered) or the retries run out."""

    pending = "pending"
    delivered = "delivered"
    failed = "failed"


class AttemptOutcome(StrEnum):
    """One try to deliver (or to e-mail, which is never interrupted)."""

    success = "success"
    failure = "failure"
    interrupted = "interrupted"
