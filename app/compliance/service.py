"""Compliance status (SPEC §10): is this client's file in order, check by check, from live data.

Each check answers `ok`, `warning` (needs attention, no duty missed yet) or `failing` (a duty
of the agreement is not met, or cannot be met), with a reason and the records behind it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, func, select

from app.audits.models import Audit
from app.breaches.models import Breach, BreachNotice
from app.clients.models import Client, Contact
from app.clock import Clock
from app.compliance.schemas import Check, CheckStatus, ComplianceStatus
from app.events import types
from app.events.models import Delivery, WebhookEndpoint
from app.instructions import service as instructions
from app.instructions.models import InstructionVersion
from app.instructions.schemas import InstructionStatus
from app.notices.models import Notice
from app.processor import service as processor
from app.security_exceptions.models import SecurityException
from app.security_exceptions.schemas import ExceptionStatus
from app.settings import Settings
from app.subject_requests.models import DataSubjectRequest
from app.subject_requests.schemas import DsrStatus
from app.subprocessors.models import ChangeRecipient

HEALTHY_WITHIN = timedelta(days=30)
BREACH_EVENT = "breach.notified"
ORDER = {CheckStatus.failing: 0, CheckStatus.warning: 1, CheckStatus.ok: 2}


def _left(deadline: datetime, now: datetime) -> int:
    return int((deadline - now).total_seconds())


def _instructions(session: Session, client: Client) -> Check:
    versions = session.exec(
        select(InstructionVersion)
        .where(InstructionVersion.client_id == client.id)
        .order_by(col(InstructionVersion.version).desc())
    ).all()
    in_force = next((v for v in versions if v.status == InstructionStatus.current.value), None)
    waiting = [v.version for v in versions if v.status == InstructionStatus.received.value]
    if in_force is None:
        return Check(
            name="instructions",
            status=CheckStatus.failing,
            reason="No written instructions in force (seed §2.2): SCR acts only on them.",
            items=[{"awaiting_acknowledgement": n} for n in waiting],
        )
    gaps = instructions.missing(in_force)
    item = {"version": in_force.version, "missing": gaps, "awaiting_acknowledgement": waiting}
    if gaps or waiting:
        reason = (
            f"Version {in_force.version} is in force but lacks {', '.join(gaps)}"
            if gaps
            else f"Version {in_force.version} is in force"
        ) + (f"; version(s) {waiting} await acknowledgement." if waiting else ".")
        return Check(name="instructions", status=CheckStatus.warning, reason=reason, items=[item])
    return Check(
        name="instructions",
        status=CheckStatus.ok,
        reason=f"Version {in_force.version} is complete and acknowledged.",
        items=[item],
    )


def _contacts(session: Session, client: Client) -> Check:
    current = session.exec(
        select(Contact).where(Contact.client_id == client.id, col(Contact.ended_at).is_(None))
    ).all()
    known = [c for c in current if c.role in ("dpo", "privacy")]
    if not known:
        return Check(
            name="contacts",
            status=CheckStatus.failing,
            reason="No DPO or privacy contact communicated in writing (seed §2.3).",
        )
    return Check(
        name="contacts",
        status=CheckStatus.ok,
        reason=f"{known[0].role.upper() if known[0].role == 'dpo' else 'Privacy contact'} known.",
        items=[{"contact_id": c.id, "role": c.role} for c in known],
    )


def _breach_channel(session: Session, settings: Settings, client: Client, now: datetime) -> Check:
    endpoints = [
        e
        for e in session.exec(
            select(WebhookEndpoint).where(
                WebhookEndpoint.client_id == client.id, col(WebhookEndpoint.enabled).is_(True)
            )
        ).all()
        if types.subscribed(e.event_types, BREACH_EVENT)
    ]
    healthy = []
    for endpoint in endpoints:
        last = session.exec(
            select(func.max(Delivery.delivered_at)).where(Delivery.endpoint_id == endpoint.id)
        ).one()
        if last is not None and now - last <= HEALTHY_WITHIN:
            healthy.append({"endpoint_id": endpoint.id, "last_2xx_at": last})
    emails = session.exec(
        select(Contact.id).where(
            Contact.client_id == client.id,
            col(Contact.ended_at).is_(None),
            col(Contact.role).in_(("dpo", "privacy", "security")),
        )
    ).all()
    email_fallback = settings.smtp_host is not None and bool(emails)
    if healthy:
        return Check(
            name="breach_channel",
            status=CheckStatus.ok,
            reason="An endpoint subscribed to breach events answered 2xx in the last 30 days.",
            items=healthy,
        )
    if email_fallback:
        return Check(
            name="breach_channel",
            status=CheckStatus.ok if not endpoints else CheckStatus.warning,
            reason="Breach notices can reach the client's contacts by e-mail"
            + ("; its endpoints have not answered 2xx in 30 days." if endpoints else "."),
            items=[{"endpoint_id": e.id} for e in endpoints],
        )
    return Check(
        name="breach_channel",
        status=CheckStatus.failing,
        reason="No way to notify a breach within 72 hours (seed §2.6): no endpoint subscribed "
        "to breach events has answered 2xx in 30 days, and no e-mail fallback.",
        items=[{"endpoint_id": e.id} for e in endpoints],
    )


def _pending_notices(session: Session, client: Client) -> Check:
    pending = session.exec(
        select(Notice).where(Notice.client_id == client.id, col(Notice.notified_at).is_(None))
    ).all()
    if not pending:
        return Check(name="notices", status=CheckStatus.ok, reason="Every notice reached it.")
    escalated = [n for n in pending if n.escalated_at is not None]
    return Check(
        name="notices",
        status=CheckStatus.failing if escalated else CheckStatus.warning,
        reason=f"{len(pending)} notice(s) not yet received by the client"
        + (f", {len(escalated)} escalated to SCR staff." if escalated else "."),
        items=[
            {
                "notice_id": n.id,
                "kind": n.kind,
                "since": n.created_at,
                "escalated": bool(n.escalated_at),
            }
            for n in pending
        ],
    )


def _change_notices(session: Session, client: Client, now: datetime) -> Check:
    open_ = session.exec(
        select(ChangeRecipient).where(
            ChangeRecipient.client_id == client.id,
            col(ChangeRecipient.response).is_(None),
            col(ChangeRecipient.objection_deadline).is_not(None),
        )
    ).all()
    running = [r for r in open_ if r.objection_deadline and r.objection_deadline > now]
    if not running:
        return Check(
            name="change_notices", status=CheckStatus.ok, reason="No objection window is open."
        )
    return Check(
        name="change_notices",
        status=CheckStatus.warning,
        reason=f"{len(running)} sub-processor change(s) can still be objected to (seed §2.8).",
        items=[
            {
                "change_id": r.notice_id,
                "objection_deadline": r.objection_deadline,
                "seconds_left": _left(r.objection_deadline, now),  # type: ignore[arg-type]
            }
            for r in running
        ],
    )


def _audits(session: Session, client: Client, now: datetime) -> Check:
    upcoming = session.exec(
        select(Audit).where(
            Audit.client_id == client.id,
            col(Audit.status).in_(
                ("requested", "pending_agreement", "pending_verification", "accepted", "scheduled")
            ),
        )
    ).all()
    undecided = [a for a in upcoming if a.status != "scheduled" and a.status != "accepted"]
    return Check(
        name="audits",
        status=CheckStatus.warning if undecided else CheckStatus.ok,
        reason=(
            f"{len(undecided)} audit request(s) await SCR's decision."
            if undecided
            else f"{len(upcoming)} audit(s) upcoming."
        ),
        items=[
            {
                "audit_id": a.id,
                "status": a.status,
                "start": a.scheduled_start or a.proposed_start,
            }
            for a in upcoming
        ],
    )


def _breaches(session: Session, client: Client, now: datetime) -> Check:
    rows = session.exec(
        select(BreachNotice, Breach)
        .join(Breach, col(Breach.id) == BreachNotice.breach_id)
        .where(BreachNotice.client_id == client.id, col(Breach.closed_at).is_(None))
    ).all()
    items: list[dict[str, Any]] = []
    late = 0
    for notice, breach in rows:
        if notice.notified_at is None:
            late += now >= notice.notify_deadline  # the 72 hours ran out, nobody told
        else:
            late += notice.notified_at > notice.notify_deadline  # told, but too late
        items.append(
            {
                "breach_id": breach.id,
                "notify_deadline": notice.notify_deadline,
                "notified_at": notice.notified_at,
                "seconds_left": None if notice.notified_at else _left(notice.notify_deadline, now),
            }
        )
    if late:
        status, reason = (
            CheckStatus.failing,
            f"{late} breach notice(s) past the 72-hour deadline (seed §2.6).",
        )
    elif any(i["notified_at"] is None for i in items):
        status, reason = CheckStatus.warning, "An open breach is not notified yet; time is running."
    else:
        status, reason = CheckStatus.ok, f"{len(items)} open breach(es), each notified in time."
    return Check(name="breaches", status=status, reason=reason, items=items)


def _exceptions(session: Session, client: Client, now: datetime) -> Check:
    active = session.exec(
        select(SecurityException).where(
            SecurityException.client_id == client.id,
            SecurityException.status == ExceptionStatus.approved.value,
            col(SecurityException.starts_at) <= now,
            col(SecurityException.ends_at) > now,
        )
    ).all()
    return Check(
        name="security_exceptions",
        status=CheckStatus.warning if active else CheckStatus.ok,
        reason=(
            f"{len(active)} exception(s) to the security measures in force (seed §2.3)."
            if active
            else "No exception to the security measures is in force."
        ),
        items=[{"exception_id": e.id, "ends_at": e.ends_at} for e in active],
    )


def _requests(session: Session, client: Client, now: datetime) -> Check:
    overdue = session.exec(
        select(DataSubjectRequest).where(
            DataSubjectRequest.client_id == client.id,
            DataSubjectRequest.status == DsrStatus.open.value,
            col(DataSubjectRequest.due_at) <= now,
        )
    ).all()
    return Check(
        name="data_subject_requests",
        status=CheckStatus.failing if overdue else CheckStatus.ok,
        reason=(
            f"{len(overdue)} data-subject request(s) overdue."
            if overdue
            else "No data-subject request is overdue."
        ),
        items=[{"request_id": r.id, "due_at": r.due_at} for r in overdue],
    )


def _processor(session: Session) -> Check:
    gaps = processor.missing(processor.current(session))
    return Check(
        name="processor_profile",
        status=CheckStatus.warning if gaps else CheckStatus.ok,
        reason=(
            f"The processor profile lacks {', '.join(gaps)} (Art. 30(2), 32(1))."
            if gaps
            else "The processor profile is complete."
        ),
        items=[{"missing": gaps}] if gaps else [],
    )


def status_of(
    session: Session, clock: Clock, settings: Settings, client: Client
) -> ComplianceStatus:
    now = clock.now()
    checks = [
        _instructions(session, client),
        _contacts(session, client),
        _breach_channel(session, settings, client, now),
        _pending_notices(session, client),
        _change_notices(session, client, now),
        _audits(session, client, now),
        _breaches(session, client, now),
        _exceptions(session, client, now),
        _requests(session, client, now),
        _processor(session),
    ]
    failing = sum(c.status is CheckStatus.failing for c in checks)
    warnings = sum(c.status is CheckStatus.warning for c in checks)
    worst = min((c.status for c in checks), key=ORDER.__getitem__)
    return ComplianceStatus(
        client_id=client.id,
        client_name=client.name,
        status=worst,
        failing=failing,
        warnings=warnings,
        checked_at=now,
        checks=checks,
    )


def overview(session: Session, clock: Clock, settings: Settings) -> list[ComplianceStatus]:
    """Every client, worst first: most failing checks, then most warnings, then by name."""
    clients = session.exec(select(Client)).all()
    found = [status_of(session, clock, settings, client) for client in clients]
    return sorted(found, key=lambda s: (-s.failing, -s.warnings, s.client_name))
