"""The principal dependency: every /v1 route starts here."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.openapi.models import HTTPBearer as HTTPBearerModel
from fastapi.security.base import SecurityBase

from app.auditlog import recording
from app.auditlog.chain import Actor
from app.auth.principal import Principal
from app.auth.service import LAST_USED_PRECISION, touch_key
from app.auth.throttle import address_of, authenticate_in_request
from app.db import unit_of_work
from app.errors import Forbidden
from app.routing import defer_write


class ApiKeyBearer(SecurityBase):
    """The API key: OpenAPI's bearer scheme (Swagger UI's Authorize button) and the principal it
    names, in one dependency. FastAPI solves each dependency as a node of its own per request:
    the scheme as a dependency of its own (`HTTPBearer`) cost every /v1 request a node for a
    value nothing read. A missing key is answered by our own 401 problem, as every other
    failure to authenticate."""

    def __init__(self) -> None:
        # The model and name `HTTPBearer` would give: the published contract is unchanged.
        self.model = HTTPBearerModel(
            description=(
                "An API key: `dpa_…`. Staff keys see everything; client keys only their client."
            )
        )
        self.scheme_name = "HTTPBearer"

    async def __call__(self, request: Request) -> Principal:
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
            Actor(
                role=principal.role.value, key_id=principal.key_id, client_id=principal.client_id
            ),
        )
        now = context.clock.now()
        if found.stale and context.first_use_this_minute(
            principal.key_id, now, LAST_USED_PRECISION
        ):
            defer_write(request, lambda db: touch_key(db, principal.key_id, now))
        return principal


get_principal = ApiKeyBearer()
PrincipalDep = Annotated[Principal, Depends(get_principal)]


def check_staff(principal: Principal) -> Principal:
    if not principal.is_staff:
        raise Forbidden("This operation needs a staff API key.")
    return principal


async def require_staff(principal: PrincipalDep) -> Principal:
    # async: a check this cheap should not cost a trip to the thread pool
    return check_staff(principal)


StaffDep = Annotated[Principal, Depends(require_staff)]
