"""Every table, imported once so that SQLModel.metadata knows them all (Alembic, tests)."""

from app.auditlog.models import AuditLogEntry, AuditLogHead
from app.audits.models import Audit
from app.auth.models import ApiKey, BootstrapMarker
from app.breaches.models import Breach, BreachNotice, BreachUpdate, DisclosureRequest
from app.calendarfeeds.models import CalendarFeed, CalendarSequence
from app.clients.models import Client, Contact
from app.events.models import (
    Delivery,
    DeliveryAttempt,
    EmailAttempt,
    Event,
    Timer,
    WebhookEndpoint,
)
from app.idempotency import IdempotencyRecord
from app.instructions.models import InstructionVersion
from app.notices.models import Notice, NoticeLink
from app.processor.models import ProcessorProfile
from app.security_exceptions.models import SecurityException
from app.subject_requests.models import DataSubjectRequest
from app.subprocessors.models import (
    ChangeNotice,
    ChangeRecipient,
    InitialAcceptance,
    SubProcessor,
    TransferConsent,
)

__all__ = [
    "ApiKey",
    "Audit",
    "AuditLogEntry",
    "AuditLogHead",
    "BootstrapMarker",
    "Breach",
    "BreachNotice",
    "BreachUpdate",
    "CalendarFeed",
    "CalendarSequence",
    "ChangeNotice",
    "ChangeRecipient",
    "Client",
    "Contact",
    "DataSubjectRequest",
    "Delivery",
    "DeliveryAttempt",
    "DisclosureRequest",
    "EmailAttempt",
    "Event",
    "IdempotencyRecord",
    "InitialAcceptance",
    "InstructionVersion",
    "Notice",
    "NoticeLink",
    "ProcessorProfile",
    "SecurityException",
    "SubProcessor",
    "Timer",
    "TransferConsent",
    "WebhookEndpoint",
]
