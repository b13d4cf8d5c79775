"""What a successful write leaves in the audit log: who, what, when, which request.

Collected from the request and its answer by `app.routing` and appended in the same
transaction as the change, just before the commit: no change is committed without its entry,
and a failed request (rolled back) leaves none. The summary names the fields a request sent,
never their values: the log holds ids, not personal data or secrets."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from fastapi import Request, Response

from app.auditlog.chain import Actor

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Where requests note audit facts (request.state): cleared when a request is run again.
STATE_NAMES = ("audit_actor", "audit_summary", "audit_resources")
# Path parameters that are credentials, not resource ids: never logged.
_SECRET_PARAMS = frozenset({"token"})


def note_actor(request: Request, actor: Actor) -> None:
    """Say who is acting (the principal dependency; the e-mail link page for a contact)."""
    request.state.audit_actor = actor


def note_summary(request: Request, **summary: Any) -> None:
    """Add non-personal facts to the entry's summary (an answer's action, say)."""
    request.state.audit_summary = {**getattr(request.state, "audit_summary", {}), **summary}


def note_resources(request: Request, **resource_ids: str) -> None:
    """Add ids the path does not carry (the notice behind an e-mailed link, say)."""
    request.state.audit_resources = {
        **getattr(request.state, "audit_resources", {}),
        **resource_ids,
    }


def facts(request: Request, response: Response, route: str, body: bytes) -> dict[str, Any] | None:
    """The entry for a successful write, or None for a read (or an anonymous request that
    changed nothing)."""
    if request.method not in WRITE_METHODS:
        return None
    actor: Actor | None = getattr(request.state, "audit_actor", None)
    if actor is None:
        return None
    resource_ids = {
        name: str(value)
        for name, value in request.path_params.items()
        if name not in _SECRET_PARAMS
    }
    resource_ids.update(getattr(request.state, "audit_resources", {}))
    answer = _json_object(bytes(getattr(response, "body", b"")))
    if isinstance(answer.get("id"), str) and answer["id"] not in resource_ids.values():
        resource_ids["result_id"] = answer["id"]
    client_id = (
        actor.client_id
        or resource_ids.get("client_id")
        or (answer.get("client_id") if isinstance(answer.get("client_id"), str) else None)
    )
    summary: dict[str, Any] = {"fields": _field_names(request, body)}
    summary.update(getattr(request.state, "audit_summary", {}))
    return {
        "actor": actor,
        "method": request.method,
        "route": route,
        "status_code": response.status_code,
        "resource_ids": resource_ids,
        "summary": summary,
        "request_id": getattr(request.state, "request_id", None),
        "client_id": client_id,
    }


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _field_names(request: Request, body: bytes) -> list[str]:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        return sorted(parse_qs(body.decode(errors="replace"), keep_blank_values=True))
    return sorted(_json_object(body))
