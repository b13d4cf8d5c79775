"""Load-or-404 for a client's data-subject requests: the client first (a client key sees only
its own), then the request within it; completing needs a staff key."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path

from app.clients.dependencies import StaffClientDep, VisibleClientDep
from app.db import SessionDep
from app.subject_requests import service
from app.subject_requests.models import DataSubjectRequest

DsrIdPath = Annotated[str, Path(max_length=40, description="A request id (`dsr_…`).")]


def visible_request(
    request_id: DsrIdPath, client: VisibleClientDep, session: SessionDep
) -> DataSubjectRequest:
    return service.get(session, client, request_id)


def staff_request(
    request_id: DsrIdPath, client: StaffClientDep, session: SessionDep
) -> DataSubjectRequest:
    return service.get(session, client, request_id)


DsrDep = Annotated[DataSubjectRequest, Depends(visible_request)]
StaffDsrDep = Annotated[DataSubjectRequest, Depends(staff_request)]
