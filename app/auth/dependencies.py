"""The principal dependency: every /v1 route starts here."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.auditlog import recording
from app.auditlog.chain import Actor
from app.auth.principal import Principal
from app.auth.service import LAST_USED_PRECISION, touch_key
from app.auth.throttle import address_of, authenticate_in_request
from app.db import unit_of_work
from app.errors import Forbidden
from app.routing import defer_write

# auto_error=False: a missing key is answered by our own 401 problem, not FastAPI's.
bearer = HTTPBearer(
    auto_error=False,
    description="An API key: `dpa_…`. Staff keys see everything; client keys only their client.",
)


async def get_principal(
    request: Request,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    context = request.app.state.context
    # A /v1/clients/{client_id}/… path: its client is read in the key's own statement (the
    # tenant scope in the join), and visible_client takes it from there.
    client_id = request.path_params.get("client_id")
    found = await authenticate_in_request(
        unit_of_work(request),
        context,
        request.headers.get("authorization"),
        address_of(request.client),
        client_id,
    )
    principal = found.principal
    if client_id is not None:
        request.state.path_client = (client_id, found.client)
    recording.note_actor(
        request,
        Actor(role=principal.role.value, key_id=principal.key_id, client_id=principal.client_id),
    )
    now = context.clock.now()
    if found.stale and context.first_use_this_minute(principal.key_id, now, LAST_USED_PRECISION):
        defer_write(request, lambda db: touch_key(db, principal.key_id, now))
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def check_staff(principal: Principal) -> Principal:
    if not principal.is_staff:
        raise Forbidden("This operation needs a staff API key.")
    return principal


async def require_staff(principal: PrincipalDep) -> Principal:
    # async: a check this cheap should not cost a trip to the thread pool
    return check_staff(principal)


StaffDep = Annotated[Principal, Depends(require_staff)]
