"""Written processing instructions (seed §2.2): versions, acknowledgements, objections, and the
version in force."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, select

from app.auth.principal import Principal
from app.clients.models import Client
from app.clock import Clock
from app.errors import Conflict, NotFound, RuleViolation, field_errors
from app.events import service as events
from app.ids import new_id
from app.instructions.models import InstructionVersion
from app.instructions.schemas import (
    DataCategory,
    Evidence,
    InstructionCreate,
    InstructionDiff,
    InstructionPublic,
    InstructionStatus,
    ListChange,
)
from app.notices import service as notices
from app.pagination import PageParams, Rows, paginate
from app.settings import Settings


def _not_future(clock: Clock, value: Any, field: str) -> None:
    now = clock.now()
    if value > now:
        raise RuleViolation(
            "time-in-past",
            f"{field.split('.')[-1]} cannot be in the future (now is {now.isoformat()}).",
            errors=field_errors(field, "in the future"),
        )


# --- instructions ------------------------------------------------------------------------


def missing(version: InstructionVersion) -> list[str]:
    """What seed §2.2 asks of a written instruction and this version lacks."""
    gaps = []
    if not version.data_categories:
        gaps.append("data_categories")
    if not version.processing_operations:
        gaps.append("processing_operations")
    gaps += [
        f"retention of {category['name']!r}"
        for category in version.data_categories
        if not category.get("retention")
    ]
    if not version.security_measures:
        gaps.append("security_measures")
    if not version.evidence:
        gaps.append("evidence (the written instruction)")
    return gaps


def view(version: InstructionVersion) -> InstructionPublic:
    gaps = missing(version)
    return InstructionPublic(
        **version.model_dump(exclude={"status", "evidence", "data_categories"}),
        status=InstructionStatus(version.status),
        complete=not gaps,
        missing=gaps,
        data_categories=[DataCategory(**c) for c in version.data_categories],
        evidence=Evidence(**version.evidence) if version.evidence else None,
    )


def submit(
    session: Session, clock: Clock, principal: Principal, client: Client, data: InstructionCreate
) -> InstructionVersion:
    if data.evidence is not None:
        _not_future(clock, data.evidence.received_at, "body.evidence.received_at")
    latest = session.exec(
        select(func.max(InstructionVersion.version)).where(
            InstructionVersion.client_id == client.id
        )
    ).one()
    version = InstructionVersion(
        id=new_id("ins"),
        client_id=client.id,
        version=(latest or 0) + 1,
        status=InstructionStatus.received.value,
        submitted_by=principal.key_id,
        created_at=clock.now(),
        **data.model_dump(mode="json"),
    )
    session.add(version)
    session.flush()
    events.emit(
        session, clock, "instruction.received", version.id, _message(version), client_id=None
    )
    return version


def _message(version: InstructionVersion, **extra: Any) -> dict[str, Any]:
    gaps = missing(version)
    return {
        "instruction_id": version.id,
        "client_id": version.client_id,
        "version": version.version,
        "status": version.status,
        "complete": not gaps,
        "missing": gaps,
        **extra,
    }


def get_version(session: Session, client: Client, number: int) -> InstructionVersion:
    version = session.exec(
        select(InstructionVersion).where(
            InstructionVersion.client_id == client.id, InstructionVersion.version == number
        )
    ).first()
    if version is None:
        raise NotFound("instruction version", str(number))
    return version


def in_force(session: Session, client_id: str) -> InstructionVersion | None:
    """The acknowledged version SCR works to (status `current`), if any."""
    return session.exec(
        select(InstructionVersion).where(
            InstructionVersion.client_id == client_id,
            InstructionVersion.status == InstructionStatus.current.value,
        )
    ).first()


def current(session: Session, client: Client) -> InstructionVersion:
    version = in_force(session, client.id)
    if version is None:
        raise NotFound("current instruction of client", client.id)
    return version


def transfers_forbidden(session: Session, client_id: str) -> int | None:
    """The number of the client's current instruction version if it forbids transfers to third
    countries (seed §2.2, §2.9), else None. Other domains ask this; they do not read versions."""
    version = in_force(session, client_id)
    if version is None or version.third_country_transfers_allowed:
        return None
    return version.version


def list_versions(session: Session, client: Client, params: PageParams) -> Rows[InstructionVersion]:
    statement = select(InstructionVersion).where(InstructionVersion.client_id == client.id)
    return paginate(session, statement, InstructionVersion, params)


def acknowledge(
    session: Session,
    clock: Clock,
    principal: Principal,
    version: InstructionVersion,
    accept_incomplete_reason: str | None = None,
) -> InstructionVersion:
    """SCR staff acknowledge: this version becomes current, the previous one superseded.

    Seed §2.2: SCR acts only on written instructions, so a version without its evidence is
    never made current. Other missing elements need an explicit, recorded reason; missing
    security measures alone do not block (absent instructions, SCR's own measures apply)."""
    if version.status != InstructionStatus.received.value:
        raise Conflict(
            f"Version {version.version} is {version.status}; only a received version "
            "can be acknowledged."
        )
    if not version.evidence:
        raise RuleViolation(
            "instruction-written-evidence",
            f"Version {version.version} has no evidence of the written instruction "
            "(document_ref, document_sha256, signed_by, received_at): SCR acts only on written "
            "instructions (seed §2.2). Submit a version with its evidence.",
            missing=["evidence (the written instruction)"],
        )
    blocking = [gap for gap in missing(version) if gap != "security_measures"]
    if blocking and not accept_incomplete_reason:
        raise RuleViolation(
            "instruction-incomplete",
            f"Version {version.version} lacks {', '.join(blocking)}. Make it current only with "
            "an accept_incomplete_reason, which is recorded with it.",
            missing=blocking,
            errors=field_errors("body.accept_incomplete_reason", "required: elements missing"),
        )
    now = clock.now()
    version.accepted_incomplete_reason = accept_incomplete_reason if blocking else None
    previous = session.exec(
        select(InstructionVersion).where(
            InstructionVersion.client_id == version.client_id,
            InstructionVersion.status == InstructionStatus.current.value,
        )
    ).first()
    if previous is not None:
        previous.status, previous.superseded_at = InstructionStatus.superseded.value, now
        session.add(previous)
    version.status = InstructionStatus.current.value
    version.acknowledged_at, version.acknowledged_by = now, principal.key_id
    session.add(version)
    session.flush()
    events.emit(
        session,
        clock,
        "instruction.acknowledged",
        version.id,
        _message(version),
        client_id=version.client_id,
    )
    return version


def object_to(
    session: Session, clock: Clock, settings: Settings, version: InstructionVersion, reason: str
) -> InstructionVersion:
    """GDPR Art. 28(3): SCR tells the client at once that an instruction would infringe the law."""
    if version.status != InstructionStatus.received.value:
        raise Conflict(
            f"Version {version.version} is {version.status}; only a received version "
            "can be objected to."
        )
    version.status = InstructionStatus.objected.value
    version.objected_at, version.objection_reason = clock.now(), reason
    session.add(version)
    session.flush()
    # A notice: escalated to staff and e-mailed when no endpoint of the client answers in time.
    notices.send(
        session,
        clock,
        kind="instruction_objection",
        subject=version.id,
        client_id=version.client_id,
        event_type="instruction.objected",
        event_subject=version.id,
        data=_message(version, reason=reason),
        escalate_after=timedelta(minutes=settings.breach_escalation_minutes),
    )
    return version


def _list_change(old: list[Any], new: list[Any]) -> ListChange:
    return ListChange(
        added=[x for x in new if x not in old], removed=[x for x in old if x not in new]
    )


def diff(a: InstructionVersion, b: InstructionVersion) -> InstructionDiff:
    old = {c["name"]: c for c in a.data_categories}
    new = {c["name"]: c for c in b.data_categories}
    changed = {}
    for field in ("third_country_transfers_allowed", "evidence"):
        if getattr(a, field) != getattr(b, field):
            changed[field] = {"from": getattr(a, field), "to": getattr(b, field)}
    return InstructionDiff(
        from_version=a.version,
        to_version=b.version,
        purposes=_list_change(a.purposes, b.purposes),
        data_subject_categories=_list_change(a.data_subject_categories, b.data_subject_categories),
        processing_operations=_list_change(a.processing_operations, b.processing_operations),
        security_measures=_list_change(a.security_measures, b.security_measures),
        data_categories_added=[DataCategory(**new[n]) for n in new if n not in old],
        data_categories_removed=[DataCategory(**old[n]) for n in old if n not in new],
        data_categories_changed=[
            {"name": n, "from": old[n], "to": new[n]} for n in new if n in old and old[n] != new[n]
        ],
        changed=changed,
    )
