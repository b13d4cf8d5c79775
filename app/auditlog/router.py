from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query

from app.auditlog import service
from app.auditlog.schemas import AuditLogEntryPublic, AuditLogVerification
from app.auth.dependencies import PrincipalDep, StaffDep
from app.bounds import Moment
from app.context import ClockDep
from app.db import SessionDep
from app.errors import problem_responses
from app.pagination import MAX_LIMIT, Page
from app.routing import api_router

router = api_router("/v1/audit-log", "evidence")


@router.get("", summary="The audit log", response_model=Page[AuditLogEntryPublic])
def list_entries(
    principal: PrincipalDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Entries per page.")] = 50,
    cursor: Annotated[
        str | None, Query(max_length=200, description="`next_cursor` of a page.")
    ] = None,
    client_id: Annotated[
        str | None, Query(max_length=40, description="Only entries about this client.")
    ] = None,
    resource_id: Annotated[
        str | None,
        Query(max_length=40, description="Only entries naming this id (any resource)."),
    ] = None,
    key_id: Annotated[
        str | None, Query(max_length=40, description="Only changes made with this API key.")
    ] = None,
    created_after: Annotated[
        Moment | None, Query(description="Only entries written at or after this instant.")
    ] = None,
    created_before: Annotated[
        Moment | None, Query(description="Only entries written before this instant.")
    ] = None,
) -> Any:
    """Every successful change, newest first: who (API key and role, or the contact who answered
    an e-mailed link), what (route, ids, the names of the fields sent), when, and the request id.
    Staff see every entry; a client key sees the entries about its own client.

    Entries form a hash chain: see `GET /v1/audit-log/verify`."""
    rows, next_cursor = service.list_entries(
        session,
        principal,
        limit=limit,
        cursor=cursor,
        client_id=client_id,
        resource_id=resource_id,
        key_id=key_id,
        created_after=created_after,
        created_before=created_before,
    )
    return {
        "items": [AuditLogEntryPublic.model_validate(row) for row in rows],
        "next_cursor": next_cursor,
    }


@router.get(
    "/verify",
    summary="Verify the audit log's hash chain (staff)",
    response_model=AuditLogVerification,
    responses=problem_responses(403),
)
def verify(_staff: StaffDep, session: SessionDep, clock: ClockDep) -> Any:
    """Recompute every entry's SHA-256 from the stored rows: `intact` with the number of entries
    and the head hash (note it down: a later verification must extend it), or the first entry
    that does not follow from the one before (altered, deleted, or reordered). The same check as
    `dpa audit-log verify`."""
    return service.as_dict(service.verify(session), clock.now())
