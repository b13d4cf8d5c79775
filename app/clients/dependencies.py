"""Load-or-404 dependencies for client-scoped routes. Visibility is checked before the role, so
a client key never learns whether another client's id exists."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path

from app.auth.dependencies import PrincipalDep, check_staff
from app.clients.models import Client
from app.clients.service import get_client
from app.db import SessionDep

ClientIdPath = Annotated[
    str, Path(max_length=40, description="A client id (`cli_…`).", examples=["cli_01jd3k4m5n"])
]


def visible_client(client_id: ClientIdPath, principal: PrincipalDep, session: SessionDep) -> Client:
    return get_client(session, principal, client_id)


VisibleClientDep = Annotated[Client, Depends(visible_client)]


async def staff_client(client: VisibleClientDep, principal: PrincipalDep) -> Client:
    check_staff(principal)
    return client


StaffClientDep = Annotated[Client, Depends(staff_client)]
