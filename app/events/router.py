from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query

from app.auth.dependencies import PrincipalDep
from app.bounds import Moment
from app.context import ClockDep, SettingsDep
from app.db import SessionDep
from app.errors import problem_responses
from app.events import service, types
from app.events.dependencies import EndpointDep, EventDep
from app.events.schemas import (
    AttemptPublic,
    DeliveryPublic,
    EndpointCreate,
    EndpointPublic,
    EndpointUpdate,
    EndpointWithSecret,
    EventPublic,
    EventTypeInfo,
    RecoverResult,
)
from app.pagination import Page, PageDep, page_of
from app.routing import api_router

endpoints = api_router("/v1/webhook-endpoints", "webhooks")
events = api_router("/v1", "events")


def _with_secret(endpoint: Any) -> EndpointWithSecret:
    return EndpointWithSecret(
        **EndpointPublic.model_validate(endpoint).model_dump(), secret=endpoint.secret
    )


@endpoints.post(
    "",
    status_code=201,
    summary="Register a webhook endpoint",
    response_model=EndpointWithSecret,
    responses=problem_responses(404),
)
def create_endpoint(
    data: EndpointCreate,
    principal: PrincipalDep,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> Any:
    """A receiver of signed events (Standard Webhooks). The answer's `secret` verifies them.
    A client key registers receivers for its own client; staff also register SCR's own
    (`client_id` null), which gets the events meant for SCR."""
    endpoint = service.create_endpoint(
        session, clock, principal, data, settings.webhook_allow_private
    )
    return _with_secret(endpoint)


@endpoints.get("", summary="List webhook endpoints", response_model=Page[EndpointPublic])
def list_endpoints(
    principal: PrincipalDep,
    session: SessionDep,
    params: PageDep,
    client_id: str | None = Query(None, max_length=40, description="Staff: one client's only."),
) -> Any:
    return page_of(EndpointPublic, *service.list_endpoints(session, principal, params, client_id))


@endpoints.get(
    "/{endpoint_id}",
    summary="Get a webhook endpoint",
    response_model=EndpointPublic,
    responses=problem_responses(404),
)
def get_endpoint(endpoint: EndpointDep) -> Any:
    return endpoint


@endpoints.patch(
    "/{endpoint_id}",
    summary="Change a webhook endpoint",
    response_model=EndpointPublic,
    responses=problem_responses(404),
)
def update_endpoint(
    data: EndpointUpdate,
    endpoint: EndpointDep,
    principal: PrincipalDep,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> Any:
    """Disabling fails its pending deliveries visibly; `recover` sends them again later."""
    return service.update_endpoint(
        session, clock, principal, endpoint, data, settings.webhook_allow_private
    )


@endpoints.post(
    "/{endpoint_id}/rotate-secret",
    summary="Rotate the signing secret (the old one keeps signing for 24 h)",
    response_model=EndpointWithSecret,
    responses=problem_responses(404),
)
def rotate_secret(endpoint: EndpointDep, session: SessionDep, clock: ClockDep) -> Any:
    return _with_secret(service.rotate_secret(session, clock, endpoint))


@endpoints.post(
    "/{endpoint_id}/test",
    status_code=202,
    summary="Send a webhook.test ping to this endpoint",
    response_model=EventPublic,
    responses=problem_responses(404, 409),
)
def send_test(endpoint: EndpointDep, session: SessionDep, clock: ClockDep) -> Any:
    return service.send_test(session, clock, endpoint)


@endpoints.get(
    "/{endpoint_id}/attempts",
    summary="Delivery attempts to this endpoint",
    response_model=Page[AttemptPublic],
    responses=problem_responses(404),
)
def endpoint_attempts(endpoint: EndpointDep, session: SessionDep, params: PageDep) -> Any:
    return page_of(AttemptPublic, *service.list_attempts(session, params, endpoint_id=endpoint.id))


@endpoints.post(
    "/{endpoint_id}/recover",
    status_code=202,
    summary="Send again every failed delivery to this endpoint since a time",
    response_model=RecoverResult,
    responses=problem_responses(404, 409),
)
def recover(
    endpoint: EndpointDep,
    session: SessionDep,
    clock: ClockDep,
    since: Annotated[Moment, Query(description="Deliveries created at or after (RFC 3339).")],
) -> Any:
    return RecoverResult(requeued=service.recover(session, clock, endpoint, since))


@events.get(
    "/event-types", summary="Event types and which are urgent", response_model=list[EventTypeInfo]
)
def event_types(_principal: PrincipalDep) -> Any:
    return [EventTypeInfo(type=name, urgent=types.is_urgent(name)) for name in types.EVENT_TYPES]


@events.get("/events", summary="List events", response_model=Page[EventPublic])
def list_events(
    principal: PrincipalDep,
    session: SessionDep,
    params: PageDep,
    type: str | None = Query(None, max_length=64, description="Only this type."),
    subject: str | None = Query(None, max_length=80, description="Only about this record."),
    client_id: str | None = Query(None, max_length=40, description="Staff: one client's only."),
) -> Any:
    return page_of(
        EventPublic,
        *service.list_events(
            session, principal, params, type=type, subject=subject, client_id=client_id
        ),
    )


@events.get(
    "/events/{event_id}",
    summary="Get an event",
    response_model=EventPublic,
    responses=problem_responses(404),
)
def get_event(event: EventDep) -> Any:
    return event


@events.get(
    "/events/{event_id}/deliveries",
    summary="Where an event went: one delivery per endpoint",
    response_model=Page[DeliveryPublic],
    responses=problem_responses(404),
)
def event_deliveries(event: EventDep, session: SessionDep, params: PageDep) -> Any:
    return page_of(DeliveryPublic, *service.list_deliveries(session, event, params))


@events.get(
    "/events/{event_id}/attempts",
    summary="Every delivery attempt of an event",
    response_model=Page[AttemptPublic],
    responses=problem_responses(404),
)
def event_attempts(event: EventDep, session: SessionDep, params: PageDep) -> Any:
    return page_of(AttemptPublic, *service.list_attempts(session, params, event_id=event.id))


@events.post(
    "/events/{event_id}/redeliver",
    status_code=202,
    summary="Send an event again (same webhook-id) to its endpoints",
    response_model=list[DeliveryPublic],
    responses=problem_responses(404),
)
def redeliver(event: EventDep, session: SessionDep, clock: ClockDep) -> Any:
    return service.redeliver(session, clock, event)
