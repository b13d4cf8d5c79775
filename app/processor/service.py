"""The processor profile (SPEC §10): versioned like instructions, never edited in place."""

from __future__ import annotations

from sqlmodel import Session, col, select

from app.auth.principal import Principal
from app.clock import Clock
from app.errors import NotFound
from app.processor.models import ProcessorProfile
from app.processor.schemas import ProcessorPublic, ProcessorUpdate


def missing(profile: ProcessorProfile | None) -> list[str]:
    """What the register needs of the processor and the profile lacks."""
    if profile is None:
        return ["name", "address", "privacy_contact", "security_measures"]
    gaps = []
    if not profile.address:
        gaps.append("address")
    if not profile.privacy_contact_email:
        gaps.append("privacy_contact")
    if not profile.security_measures:
        gaps.append("security_measures")
    return gaps


def current(session: Session) -> ProcessorProfile | None:
    return session.exec(
        select(ProcessorProfile).order_by(col(ProcessorProfile.version).desc()).limit(1)
    ).first()


def view(profile: ProcessorProfile) -> ProcessorPublic:
    return ProcessorPublic.model_validate({**profile.model_dump(), "missing": missing(profile)})


def get_current(session: Session) -> ProcessorPublic:
    profile = current(session)
    if profile is None:
        raise NotFound("processor profile", "current")
    return view(profile)


def replace(
    session: Session, clock: Clock, principal: Principal, data: ProcessorUpdate
) -> ProcessorPublic:
    previous = current(session)
    profile = ProcessorProfile(
        version=(previous.version + 1) if previous else 1,
        **data.model_dump(),
        created_by=principal.key_id,
        created_at=clock.now(),
    )
    session.add(profile)
    session.flush()  # two PUTs at once: the second fails on the version's primary key (409)
    return view(profile)


def versions(session: Session) -> list[ProcessorPublic]:
    rows = session.exec(
        select(ProcessorProfile).order_by(col(ProcessorProfile.version).desc())
    ).all()
    return [view(row) for row in rows]
