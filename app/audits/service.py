"""Audit rules (seed §2.5). Requests go to SCR staff; decisions go to the client."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from app import workdays
from app.audits.models import Audit
from app.audits.schemas import (
    AuditCreate,
    AuditDecision,
    AuditKind,
    AuditSchedule,
    AuditStatus,
    EmergencyBasis,
)
from app.auth.principal import Principal, of_client
from app.breaches import views as breaches
from app.clients.models import Client
from app.clock import Clock
from app.errors import Conflict, Forbidden, RuleViolation, field_errors
from app.events import service as events
from app.events import timers
from app.events.timers import TimerKind
from app.ids import new_id
from app.notices import service as notices
from app.pagination import PageParams, Rows, paginate
from app.settings import Settings

NOTICE_RULE = "audit-notice-30-working-days"
REMINDER = TimerKind.audit_reminder
REMINDER_BEFORE = timedelta(days=7)
FINAL = {AuditStatus.rejected, AuditStatus.completed, AuditStatus.cancelled}


def _notice_violation(audit_start: Any, earliest: Any, field: str) -> RuleViolation:
    return RuleViolation(
        NOTICE_RULE,
        f"Audits need at least {workdays.AUDIT_NOTICE_WORKING_DAYS} working days' notice "
        f"(seed §2.5): the earliest allowed start is {earliest.isoformat()}, not "
        f"{audit_start.isoformat()}. A shorter notice needs an emergency basis.",
        earliest_start=earliest.isoformat(),
        errors=field_errors(field, f"before earliest_start {earliest.isoformat()}"),
    )


def request_audit(
    session: Session,
    clock: Clock,
    settings: Settings,
    principal: Principal,
    client: Client,
    data: AuditCreate,
) -> Audit:
    now = clock.now()
    received = workdays.local_date(now, client.timezone)
    earliest = workdays.earliest_audit_start(received, client.calendar)
    basis = data.emergency_basis
    status = AuditStatus.requested
    if basis in (EmergencyBasis.proven_breach, EmergencyBasis.probable_breach):
        if not data.breach_id or not breaches.concerns_client(session, data.breach_id, client.id):
            raise RuleViolation(
                "audit-emergency-breach",
                "An emergency on a breach basis must name a breach that concerns this client.",
                errors=field_errors("body.breach_id", "no such breach for this client"),
            )
        if data.proposed_start < earliest:
            # Seed §2.5: a shorter notice only by mutual agreement.
            status = AuditStatus.pending_agreement
    elif basis is EmergencyBasis.court_order:
        if not data.court_order_ref:
            raise RuleViolation(
                "audit-court-order-ref",
                "An audit ordered by a judge needs the order's reference (court_order_ref).",
                errors=field_errors("body.court_order_ref", "required for a court order"),
            )
        # A judge's order needs no agreement, but a client's word that one exists is not an
        # order: staff check it (court, date, reference) before it shortens any notice.
        status = AuditStatus.accepted if principal.is_staff else AuditStatus.pending_verification
    elif data.proposed_start < earliest:
        raise _notice_violation(data.proposed_start, earliest, "body.proposed_start")
    audit = Audit(
        id=new_id("aud"),
        client_id=client.id,
        kind=data.kind.value,
        scope=data.scope,
        auditor_organisation=data.auditor.organisation,
        auditor_person=data.auditor.person,
        auditor_independent=data.auditor.independent,
        proposed_start=data.proposed_start,
        proposed_end=data.proposed_end,
        emergency_basis=basis.value,
        breach_id=data.breach_id,
        court_order_ref=data.court_order_ref,
        court_name=data.court_name,
        court_order_date=data.court_order_date,
        court_order_verified_at=now
        if status is AuditStatus.accepted and data.court_order_ref
        else None,
        court_order_verified_by=(
            principal.key_id if status is AuditStatus.accepted and data.court_order_ref else None
        ),
        received_at=now,
        earliest_start=earliest,
        status=status.value,
        created_by=principal.key_id,
        created_at=now,
        updated_at=now,
    )
    session.add(audit)
    session.flush()
    events.emit(session, clock, "audit.requested", audit.id, _message(audit), client_id=None)
    if status is AuditStatus.accepted:
        _tell(session, clock, settings, audit, "audit.accepted", _message(audit))
    return audit


def _tell(
    session: Session,
    clock: Clock,
    settings: Settings,
    audit: Audit,
    event_type: str,
    data: dict[str, Any],
) -> None:
    """A decision on the client's audit is a notice (SPEC §8.4): e-mailed and escalated to
    staff after DPA_NOTICE_ESCALATION_HOURS when no endpoint of the client answers."""
    notices.send(
        session,
        clock,
        kind="audit",
        subject=audit.id,
        client_id=audit.client_id,
        event_type=event_type,
        event_subject=audit.id,
        data=data,
        escalate_after=timedelta(hours=settings.notice_escalation_hours),
    )


def _message(audit: Audit, **extra: Any) -> dict[str, Any]:
    return {
        "audit_id": audit.id,
        "client_id": audit.client_id,
        "kind": audit.kind,
        "status": audit.status,
        "proposed_start": audit.proposed_start.isoformat(),
        "proposed_end": audit.proposed_end.isoformat(),
        "earliest_start": audit.earliest_start.isoformat(),
        "emergency_basis": audit.emergency_basis,
        "scheduled_start": audit.scheduled_start.isoformat() if audit.scheduled_start else None,
        "scheduled_end": audit.scheduled_end.isoformat() if audit.scheduled_end else None,
        **extra,
    }


def get_audit(session: Session, client: Client, audit_id: str) -> Audit:
    return of_client(session, Audit, audit_id, client.id, "audit")


def list_audits(
    session: Session, client: Client, params: PageParams, status: AuditStatus | None
) -> Rows[Audit]:
    statement = select(Audit).where(Audit.client_id == client.id)
    if status is not None:
        statement = statement.where(Audit.status == status.value)
    return paginate(session, statement, Audit, params)


def _move(
    session: Session, clock: Clock, audit: Audit, allowed: set[AuditStatus], to: AuditStatus
) -> None:
    if AuditStatus(audit.status) not in allowed:
        raise Conflict(
            f"Audit {audit.id} is {audit.status}; it can become {to.value} only from "
            f"{', '.join(sorted(s.value for s in allowed))}."
        )
    audit.status = to.value
    audit.updated_at = clock.now()
    session.add(audit)


def accept(
    session: Session,
    clock: Clock,
    settings: Settings,
    principal: Principal,
    audit: Audit,
    decision: AuditDecision,
) -> Audit:
    """SCR staff accept; for a shorter emergency notice this is the mutual agreement, and for
    a court order a client declared, the verification: the court, the date and the reference
    of the order are recorded."""
    if audit.status == AuditStatus.pending_verification.value:
        court_order_ref = decision.court_order_ref or audit.court_order_ref
        needed = {
            "court_name": decision.court_name,
            "court_order_date": decision.court_order_date,
            "court_order_ref": court_order_ref,
        }
        missing = [name for name, value in needed.items() if value is None]
        if missing:
            raise RuleViolation(
                "audit-court-order-verification",
                "A court order the client declared is accepted only once SCR staff have checked "
                f"it: record {', '.join(missing)}.",
                errors=[e for name in missing for e in field_errors(f"body.{name}", "required")],
            )
        audit.court_name, audit.court_order_date = decision.court_name, decision.court_order_date
        audit.court_order_ref = court_order_ref
        audit.court_order_verified_at, audit.court_order_verified_by = (
            clock.now(),
            principal.key_id,
        )
    _move(
        session,
        clock,
        audit,
        {AuditStatus.requested, AuditStatus.pending_agreement, AuditStatus.pending_verification},
        AuditStatus.accepted,
    )
    audit.decision_reason = decision.reason
    _tell(session, clock, settings, audit, "audit.accepted", _message(audit))
    return audit


def reject(
    session: Session, clock: Clock, settings: Settings, audit: Audit, reason: str | None
) -> Audit:
    """A refusal says why (seed §2.5 grants the audit right; refusing it needs a reason the
    client is told, in `audit.rejected`)."""
    if not reason:
        raise RuleViolation(
            "audit-rejection-reason",
            "Rejecting an audit needs a reason; it is sent to the client.",
            errors=field_errors("body.reason", "required"),
        )
    _move(
        session,
        clock,
        audit,
        {AuditStatus.requested, AuditStatus.pending_agreement, AuditStatus.pending_verification},
        AuditStatus.rejected,
    )
    audit.decision_reason = reason
    _tell(session, clock, settings, audit, "audit.rejected", _message(audit, reason=reason))
    return audit


def schedule(
    session: Session,
    clock: Clock,
    settings: Settings,
    client: Client,
    audit: Audit,
    data: AuditSchedule,
) -> Audit:
    if data.end < data.start:
        raise RuleViolation(
            "audit-dates", "end is before start.", errors=field_errors("body.end", "before start")
        )
    emergency = audit.emergency_basis != EmergencyBasis.none.value
    if not emergency and data.start < audit.earliest_start:
        raise _notice_violation(data.start, audit.earliest_start, "body.start")
    if audit.kind == AuditKind.penetration_test.value:
        agreement = data.pentest_agreement
        problem = None
        if agreement is None:
            problem = "the tripartite agreement (pentest_agreement) is missing"
        elif not agreement.liability_release:
            problem = "the liability release is not given"
        elif not (data.start <= agreement.window_start <= agreement.window_end <= data.end):
            problem = "the test window must lie inside the audit dates"
        if problem:
            raise RuleViolation(
                "pentest-tripartite-agreement",
                f"A penetration test cannot be scheduled: {problem}. Seed §2.5 requires an "
                "agreement of SCR, the client and the testing organisation: testing "
                "organisation, test window, nature of tests, liability release.",
                errors=field_errors("body.pentest_agreement", problem),
            )
        assert agreement is not None
        audit.testing_organisation = agreement.testing_organisation
        audit.test_window_start, audit.test_window_end = (
            agreement.window_start,
            agreement.window_end,
        )
        audit.nature_of_tests = agreement.nature_of_tests
        audit.liability_release = agreement.liability_release
    _move(session, clock, audit, {AuditStatus.accepted}, AuditStatus.scheduled)
    audit.scheduled_start, audit.scheduled_end = data.start, data.end
    _tell(session, clock, settings, audit, "audit.scheduled", _message(audit))
    starts_at = datetime.combine(data.start, time(9, 0), ZoneInfo(client.timezone))
    timers.cancel(session, clock, subject=audit.id, kinds=[REMINDER])
    timers.schedule(
        session,
        clock,
        kind=REMINDER,
        subject=audit.id,
        client_id=audit.client_id,
        due_at=max(starts_at - REMINDER_BEFORE, clock.now()),
    )
    return audit


def complete(session: Session, clock: Clock, audit: Audit) -> Audit:
    _move(session, clock, audit, {AuditStatus.scheduled}, AuditStatus.completed)
    timers.cancel(session, clock, subject=audit.id)
    events.emit(
        session, clock, "audit.completed", audit.id, _message(audit), client_id=audit.client_id
    )
    return audit


def cancel(
    session: Session, clock: Clock, settings: Settings, principal: Principal, audit: Audit
) -> Audit:
    if not principal.is_staff and audit.status == AuditStatus.rejected.value:
        raise Forbidden("A rejected audit cannot be cancelled.")
    _move(session, clock, audit, set(AuditStatus) - FINAL, AuditStatus.cancelled)
    timers.cancel(session, clock, subject=audit.id)
    # The other side is told: a client's cancellation goes to SCR, SCR's to the client.
    if principal.is_staff:
        _tell(session, clock, settings, audit, "audit.cancelled", _message(audit))
    else:
        events.emit(session, clock, "audit.cancelled", audit.id, _message(audit), client_id=None)
    return audit


def on_reminder(session: Session, clock: Clock, audit_id: str) -> None:
    audit = session.get(Audit, audit_id)
    if audit is None or audit.status != AuditStatus.scheduled.value:
        return
    for audience in (audit.client_id, None):
        events.emit(session, clock, "audit.reminder", audit.id, _message(audit), client_id=audience)
