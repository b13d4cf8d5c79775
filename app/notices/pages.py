"""The page a client's contact opens from an e-mailed notice (SPEC §8.4): plain server-rendered
HTML, readable on a phone, no JavaScript. GET shows the notice and changes nothing; POST records
the contact's answer once, as the client's. No API key: the single-use token is the credential."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from sqlmodel import Session, select

from app.auditlog import recording
from app.auditlog.chain import Actor
from app.clients.models import Client, Contact
from app.context import ClockDep, SettingsDep
from app.db import SessionDep
from app.errors import Conflict, NotFound, RuleViolation
from app.notices import links
from app.notices.models import NoticeLink
from app.routing import ServiceRoute

router = APIRouter(prefix="/notices", route_class=ServiceRoute, include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")

LABELS = {"acknowledge": "Acknowledge receipt", "object": "Object", "approve": "Approve"}
DONE = {
    "acknowledge": "Receipt acknowledged. SCR Group has been told; thank you.",
    "object": "Objection recorded. SCR Group has been told.",
    "approve": "Approval recorded. SCR Group has been told.",
}
ALREADY = {
    "acknowledge": "This notice was already acknowledged.",
    "object": "This notice was already answered: objected.",
    "approve": "This notice was already answered: approved.",
}
HEADINGS = {
    "breach": "Personal data breach notice",
    "disclosure_request": "An authority asked for your data",
    "subprocessor_change": "Intended change of sub-processors",
}
Token = Annotated[str, "the token from the e-mail"]


def _page(
    request: Request,
    status: int,
    heading: str,
    message: str | None = None,
    tone: str = "",
    **context: Any,
) -> HTMLResponse:
    response = templates.TemplateResponse(
        request,
        "notice.html",
        {"heading": heading, "message": message, "tone": tone, "labels": LABELS, **context},
        status_code=status,
    )
    # A page reached by a secret link: never cached, never sent on as a referrer.
    response.headers["Cache-Control"] = "no-store"
    return response


def _not_usable(request: Request, exc: Exception) -> HTMLResponse:
    if isinstance(exc, links.LinkExpired):
        return _page(
            request,
            410,
            "This link has expired",
            "Ask SCR Group for the notice again, or answer through your usual channel.",
            "bad",
        )
    return _page(
        request,
        404,
        "This link is not valid",
        "Check that the whole address from the e-mail was copied; each link works only for "
        "the notice and the person it was sent to.",
        "bad",
    )


def _context(session: Session, opened: links.Opened) -> dict[str, Any]:
    client = session.get(Client, opened.notice.client_id)
    return {
        "client_name": client.name if client else opened.notice.client_id,
        "contact_email": opened.link.contact_email,
        "fields": [
            (name.replace("_", " "), _text(value))
            for name, value in opened.event.data.items()
            if value not in (None, [], "")
        ],
    }


def _text(value: Any) -> str:
    if isinstance(value, list):
        return "\n".join(_text(item) for item in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_text(v)}" for k, v in value.items())
    return str(value)


async def _opened(
    request: Request, session: Session, clock: Any, settings: Any, token: str, used_status: int
) -> tuple[links.Opened, str, dict[str, Any]] | HTMLResponse:
    """The link's notice, its heading and page context; or the page to answer instead (an
    unknown, expired or already used link)."""
    try:
        opened = await run_in_threadpool(links.open_link, session, clock, settings, token)
    except (links.LinkUnknown, links.LinkExpired) as exc:
        return _not_usable(request, exc)
    heading = HEADINGS.get(opened.notice.kind, "Notice")
    context = await run_in_threadpool(_context, session, opened)
    if opened.link.used_at is not None:
        used = opened.link.used_action or "acknowledge"
        return _page(request, used_status, heading, ALREADY[used], "done", **context)
    return opened, heading, context


@router.get("/{token}", response_class=HTMLResponse)
async def show(
    token: Token, request: Request, session: SessionDep, clock: ClockDep, settings: SettingsDep
) -> HTMLResponse:
    found = await _opened(request, session, clock, settings, token, used_status=200)
    if isinstance(found, HTMLResponse):
        return found
    opened, heading, context = found
    return _page(request, 200, heading, actions=opened.actions, **context)


@router.post("/{token}", response_class=HTMLResponse)
async def act(
    token: Token,
    request: Request,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    action: Annotated[str, Form(max_length=16)],
    reason: Annotated[str | None, Form(max_length=10_000)] = None,
) -> HTMLResponse:
    found = await _opened(request, session, clock, settings, token, used_status=409)
    if isinstance(found, HTMLResponse):
        return found
    opened, heading, context = found
    if action not in opened.actions:
        return _page(
            request,
            422,
            heading,
            f"This notice can be answered with: {', '.join(opened.actions)}.",
            "bad",
            actions=opened.actions,
            **context,
        )
    try:
        await run_in_threadpool(links.answer, session, clock, opened, action, reason or None)
        contact_id = await run_in_threadpool(_contact_of, session, opened.link)
    except Conflict:
        return _page(
            request, 409, heading, ALREADY.get(action, "Already answered."), "done", **context
        )
    except (RuleViolation, NotFound) as exc:
        return _page(
            request, 422, heading, str(exc.detail), "bad", actions=opened.actions, **context
        )
    recording.note_actor(
        request, Actor(role="contact", client_id=opened.link.client_id, contact_id=contact_id)
    )
    recording.note_resources(request, notice_id=opened.notice.id, link_id=opened.link.id)
    recording.note_summary(request, action=action)
    return _page(request, 200, heading, DONE[action], "done", **context)


def _contact_of(session: Session, link: NoticeLink) -> str | None:
    """The client's current contact the link was sent to (None if the term ended since)."""
    return session.exec(
        select(Contact.id).where(
            Contact.client_id == link.client_id,
            Contact.email == link.contact_email,
            Contact.ended_at.is_(None),  # type: ignore[union-attr]
        )
    ).first()
