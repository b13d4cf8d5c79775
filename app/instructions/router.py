from __future__ import annotations

from typing import Any

from app.auth.dependencies import PrincipalDep
from app.clients.dependencies import VisibleClientDep
from app.context import ClockDep, SettingsDep
from app.db import SessionDep
from app.errors import problem_responses
from app.instructions import service
from app.instructions.dependencies import OtherVersionDep, StaffVersionDep, VersionDep
from app.instructions.schemas import (
    InstructionAcknowledge,
    InstructionCreate,
    InstructionDiff,
    InstructionPublic,
    Objection,
)
from app.pagination import Page, PageDep
from app.routing import api_router

instructions = api_router("/v1/clients/{client_id}/instructions", "instructions", 404)


@instructions.post(
    "",
    status_code=201,
    summary="Submit a new version of the written instructions",
    response_model=InstructionPublic,
)
def submit(
    data: InstructionCreate,
    client: VisibleClientDep,
    principal: PrincipalDep,
    session: SessionDep,
    clock: ClockDep,
) -> Any:
    """Seed §2.2: SCR acts only on clear, precise, written instructions. Versions are
    append-only; each reports `complete` and what is `missing`. SCR staff acknowledge it
    (it becomes current) or object to it."""
    return service.view(service.submit(session, clock, principal, client, data))


@instructions.get("", summary="Every version, newest first", response_model=Page[InstructionPublic])
def list_versions(client: VisibleClientDep, session: SessionDep, params: PageDep) -> Any:
    rows, cursor = service.list_versions(session, client, params)
    return {"items": [service.view(r) for r in rows], "next_cursor": cursor}


@instructions.get(
    "/current", summary="The current (acknowledged) version", response_model=InstructionPublic
)
def current(client: VisibleClientDep, session: SessionDep) -> Any:
    return service.view(service.current(session, client))


@instructions.get("/{version}", summary="One version", response_model=InstructionPublic)
def get_version(version: VersionDep) -> Any:
    return service.view(version)


@instructions.get(
    "/{version}/diff/{other_version}",
    summary="What changed from one version to another",
    response_model=InstructionDiff,
)
def diff(version: VersionDep, other_version: OtherVersionDep) -> Any:
    return service.diff(version, other_version)


@instructions.post(
    "/{version}/acknowledge",
    summary="Acknowledge a version: it becomes current (staff)",
    response_model=InstructionPublic,
    responses=problem_responses(403, 409),
)
def acknowledge(
    version: StaffVersionDep,
    principal: PrincipalDep,
    session: SessionDep,
    clock: ClockDep,
    data: InstructionAcknowledge | None = None,
) -> Any:
    """Seed §2.2: a version without its written evidence is never made current (422, rule
    `instruction-written-evidence`); one lacking other elements needs an
    `accept_incomplete_reason` (422, rule `instruction-incomplete`, with `missing`), recorded
    and shown. Missing security measures alone do not block: SCR's own measures apply."""
    reason = data.accept_incomplete_reason if data else None
    return service.view(service.acknowledge(session, clock, principal, version, reason))


@instructions.post(
    "/{version}/object",
    summary="Object: the instruction would infringe the law (staff)",
    response_model=InstructionPublic,
    responses=problem_responses(403, 409),
)
def object_to(
    data: Objection,
    version: StaffVersionDep,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> Any:
    """GDPR Art. 28(3): the client is told at once (`instruction.objected`, urgent), by e-mail
    too and with an escalation to staff when no endpoint of the client answers in time."""
    return service.view(service.object_to(session, clock, settings, version, data.reason))
