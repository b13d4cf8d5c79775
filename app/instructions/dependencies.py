"""Load-or-404 for instruction versions: the client first (a client key sees only its own),
then the version by number; acknowledging and objecting need a staff key."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path

from app.clients.dependencies import StaffClientDep, VisibleClientDep
from app.db import SessionDep
from app.instructions import service
from app.instructions.models import InstructionVersion

VersionPath = Annotated[int, Path(ge=1, le=1_000_000, description="A version number (1, 2, …).")]
OtherVersionPath = Annotated[int, Path(ge=1, le=1_000_000, description="The version to compare.")]


def visible_version(
    version: VersionPath, client: VisibleClientDep, session: SessionDep
) -> InstructionVersion:
    return service.get_version(session, client, version)


def other_version(
    other_version: OtherVersionPath, client: VisibleClientDep, session: SessionDep
) -> InstructionVersion:
    return service.get_version(session, client, other_version)


def staff_version(
    version: VersionPath, client: StaffClientDep, session: SessionDep
) -> InstructionVersion:
    return service.get_version(session, client, version)


VersionDep = Annotated[InstructionVersion, Depends(visible_version)]
OtherVersionDep = Annotated[InstructionVersion, Depends(other_version)]
StaffVersionDep = Annotated[InstructionVersion, Depends(staff_version)]
