from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import Response

from app.auth.dependencies import PrincipalDep
from app.calendarfeeds import service
from app.calendarfeeds.schemas import FeedCreate, FeedCreated, FeedPublic
from app.clients.dependencies import VisibleClientDep
from app.context import ClockDep, SettingsDep
from app.db import SessionDep
from app.errors import problem_responses
from app.routing import ServiceRoute, api_router

router = api_router("/v1", "evidence")
# The feed itself: no API key (calendar apps send none), so no 401 to document.
feeds = APIRouter(
    prefix="/v1",
    tags=["evidence"],
    route_class=ServiceRoute,
    responses=problem_responses(400, 422),
)

FeedIdPath = Annotated[str, Path(max_length=40, description="A feed id (`cal_…`).")]
TokenPath = Annotated[
    str,
    Path(
        max_length=100,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="The feed's token, from the URL answered when it was created.",
    ),
]


@router.post(
    "/clients/{client_id}/calendar-feeds",
    status_code=201,
    summary="Create a deadline calendar feed (its URL is shown once)",
    response_model=FeedCreated,
    responses=problem_responses(404),
)
def create_feed(
    client: VisibleClientDep,
    principal: PrincipalDep,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    data: FeedCreate | None = None,
) -> Any:
    """An iCalendar feed of this client's deadlines, for a DPO's calendar app: breach
    notification deadlines, objection deadlines, audit dates, security-exception ends and
    data-subject request due dates, each with a reminder 24 hours before. The URL carries the
    feed's token, which is its only credential: it is shown once and stored as a keyed hash."""
    feed, url = service.create(
        session, clock, settings, principal, client, data.name if data else None
    )
    return FeedCreated(**FeedPublic.model_validate(feed).model_dump(), url=url)


@router.get(
    "/clients/{client_id}/calendar-feeds",
    summary="The client's calendar feeds (without their tokens)",
    response_model=list[FeedPublic],
    responses=problem_responses(404),
)
def list_feeds(client: VisibleClientDep, session: SessionDep) -> Any:
    return service.list_feeds(session, client)


@router.delete(
    "/clients/{client_id}/calendar-feeds/{feed_id}",
    summary="Revoke a calendar feed: its URL answers 404 from now on",
    response_model=FeedPublic,
    responses=problem_responses(404, 409),
)
def revoke_feed(
    client: VisibleClientDep, feed_id: FeedIdPath, session: SessionDep, clock: ClockDep
) -> Any:
    return service.revoke(session, clock, client, feed_id)


@feeds.get(
    "/calendar-feeds/{token}.ics",
    summary="A deadline calendar (iCalendar), read by calendar apps with the token only",
    response_class=Response,
    responses={
        200: {"content": {"text/calendar": {"schema": {"type": "string"}}}},
        **problem_responses(404),
    },
)
def read_feed(token: TokenPath, session: SessionDep, clock: ClockDep, settings: SettingsDep) -> Any:
    """No API key: the token in the path is the credential, and it shows one client's dates
    only. An unknown or revoked token answers 404."""
    feed = service.open_feed(session, settings, token)
    return Response(
        service.render(session, clock, settings, feed),
        media_type="text/calendar; charset=utf-8",
    )
