"""Load-or-404 for endpoints and events: a client key sees only its own."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path

from app.auth.dependencies import PrincipalDep
from app.db import SessionDep
from app.events import service
from app.events.models import Event, WebhookEndpoint

EndpointIdPath = Annotated[str, Path(max_length=40, description="A webhook endpoint id (`whe_…`).")]
EventIdPath = Annotated[str, Path(max_length=40, description="An event id (`evt_…`).")]


def visible_endpoint(
    endpoint_id: EndpointIdPath, principal: PrincipalDep, session: SessionDep
) -> WebhookEndpoint:
    return service.get_endpoint(session, principal, endpoint_id)


def visible_event(event_id: EventIdPath, principal: PrincipalDep, session: SessionDep) -> Event:
    return service.get_event(session, principal, event_id)


EndpointDep = Annotated[WebhookEndpoint, Depends(visible_endpoint)]
EventDep = Annotated[Event, Depends(visible_event)]
