from __future__ import annotations

from typing import Any

from app.auth.dependencies import PrincipalDep, StaffDep
from app.context import ClockDep
from app.db import SessionDep
from app.errors import problem_responses
from app.processor import service
from app.processor.schemas import ProcessorPublic, ProcessorUpdate
from app.routing import api_router

router = api_router("/v1/processor", "evidence")


@router.get(
    "",
    summary="The processor's profile (current version)",
    response_model=ProcessorPublic,
    responses=problem_responses(404),
)
def get_profile(_principal: PrincipalDep, session: SessionDep) -> Any:
    """SCR Group as the processor (Art. 30(2)(a), 32(1)): name, address, representative, privacy
    contact or DPO, and the general description of its security measures. `missing` lists what
    the record of processing needs and the profile lacks. Any key may read it."""
    return service.get_current(session)


@router.put(
    "",
    summary="Replace the processor's profile (staff)",
    response_model=ProcessorPublic,
    responses=problem_responses(403, 409),
)
def put_profile(
    data: ProcessorUpdate, principal: StaffDep, session: SessionDep, clock: ClockDep
) -> Any:
    """A new version with exactly these fields; previous versions stay readable."""
    return service.replace(session, clock, principal, data)


@router.get(
    "/versions",
    summary="Every version of the processor's profile, newest first",
    response_model=list[ProcessorPublic],
)
def list_versions(_principal: PrincipalDep, session: SessionDep) -> Any:
    return service.versions(session)
