"""Load-or-404 for a client's security exceptions: the client first (a client key sees only its
own), then the exception within it; deciding needs a staff key."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path

from app.clients.dependencies import StaffClientDep, VisibleClientDep
from app.db import SessionDep
from app.security_exceptions import service
from app.security_exceptions.models import SecurityException

ExceptionIdPath = Annotated[str, Path(max_length=40, description="An exception id (`sex_…`).")]


def visible_exception(
    exception_id: ExceptionIdPath, client: VisibleClientDep, session: SessionDep
) -> SecurityException:
    return service.get(session, client, exception_id)


def staff_exception(
    exception_id: ExceptionIdPath, client: StaffClientDep, session: SessionDep
) -> SecurityException:
    return service.get(session, client, exception_id)


ExceptionDep = Annotated[SecurityException, Depends(visible_exception)]
StaffExceptionDep = Annotated[SecurityException, Depends(staff_exception)]
