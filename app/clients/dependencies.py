"""Load-or-404 dependencies for client-scoped routes. Visibility is checked before the role, so
a client key never learns whether another client's id exists."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.concurrency import run_in_threadpool

from app.auth.dependencies import PrincipalDep, check_staff
from app.clients.models import Client
from app.clients.service import get_client
from app.db import get_session
from app.errors import NotFound

ClientIdPath = Annotated[
    str, Path(max_length=40, description="A client id (`cli_…`).", examples=["cli_01jd3k4m5n"])
]


async def visible_client(
    client_id: ClientIdPath, principal: PrincipalDep, request: Request
) -> Client:
    """Read with the caller's key, in one statement (get_principal); loaded here otherwise, in
    the request's session (called for as get_principal does, not a dependency)."""
    read = getattr(request.state, "path_client", None)
    if read is not None and read[0] == client_id:
        if read[1] is None:
            raise NotFound("client", client_id)
        client: Client = read[1]
        return client
    session = await get_session(request)
    return await run_in_threadpool(get_client, session, principal, client_id)


VisibleClientDep = Annotated[Client, Depends(visible_client)]


async def staff_client(client: VisibleClientDep, principal: PrincipalDep) -> Client:
    check_staff(principal)
    return client


StaffClientDep = Annotated[Client, Depends(staff_client)]
