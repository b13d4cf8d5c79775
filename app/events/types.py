"""Event types (SPEC §9): what receivers switch on, and which are urgent."""

from __future__ import annotations

EVENT_TYPES: tuple[str, ...] = (
    "breach.notified",
    "breach.updated",
    "breach.reminder",
    "breach.acknowledged",
    "breach.escalated",
    "breach.deadline_missed",
    "breach.reported",
    "breach.closed",
    "disclosure_request.received",
    "instruction.received",
    "instruction.acknowledged",
    "instruction.objected",
    "security_exception.requested",
    "security_exception.approved",
    "security_exception.rejected",
    "security_exception.ending_soon",
    "security_exception.ended",
    "data_subject_request.received",
    "data_subject_request.reminder",
    "data_subject_request.completed",
    "data_subject_request.overdue",
    "subprocessor.change_notice",
    "subprocessor.objection",
    "subprocessor.approval",
    "subprocessor.objection_deadline_soon",
    "audit.requested",
    "audit.accepted",
    "audit.rejected",
    "audit.scheduled",
    "audit.reminder",
    "audit.completed",
    "audit.cancelled",
    "notice.escalated",
    "endpoint.disabled",
    "webhook.test",
)
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
