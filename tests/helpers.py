"""Helpers several test modules share (test modules never import from one another)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from app.clock import Clock
from app.events import contract, outbox, timers
from app.events import service as events
from app.events.models import Timer
from app.events.sending import ClaimedDelivery
from app.settings import Settings
from tests.receiver import Receiver


def route_table(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path template) of every route the app serves, HEAD aside."""
    table = []
    for route in iter_route_contexts(app.routes):
        for method in sorted(route.methods or ()):
            if method != "HEAD":
                table.append((method, route.path_format or route.path))
    return sorted(set(table))


# --- webhook receivers and events ---------------------------------------------------


def register(api: TestClient, headers: dict, receiver: Receiver, path: str, **fields: Any) -> dict:
    response = api.post(
        "/v1/webhook-endpoints", json={"url": receiver.url(path), **fields}, headers=headers
    )
    assert response.status_code == 201, response.text
    endpoint = response.json()
    receiver.trust(path, endpoint["secret"])
    return endpoint


def emit(app: FastAPI, type: str, subject: str, data: dict, client_id: str | None) -> str:
    """What a domain does: emit in its own transaction. `data` overrides fields of the type's
    example payload (the contract refuses an event that leaves its schema)."""
    context = app.state.context
    payload = {**contract.example(type), **data}
    with Session(context.engine) as session:
        event = events.emit(session, context.clock, type, subject, payload, client_id=client_id)
        session.commit()
        return event.id


# --- a timer kind of the tests' own (registered when this module is imported) --------

KIND = "test.ping"


@timers.handler(KIND)
def _ping(session: Session, clock: Clock, timer: Timer, _settings: Settings) -> None:
    events.emit(
        session, clock, "webhook.test", timer.subject, {"fired_at": clock.now().isoformat()}
    )


# --- breaches --------------------------------------------------------------------------


ART33 = {
    "data_subject_categories": ["customers"],
    "approx_data_subjects": 1200,
    "record_categories": ["e-mail addresses", "order history"],
    "approx_records": 5400,
    "likely_consequences": "Phishing against customers.",
    "measures_taken": "Credentials rotated.",
    "measures_proposed": "Warn customers.",
}


def claim(
    engine: Engine, clock: Clock, owner: str, lease: timedelta, delivery_ids: list[str]
) -> list[ClaimedDelivery]:
    """A worker's claim of these deliveries, in a transaction of its own, committed."""
    with Session(engine) as session:
        claimed = outbox.claim(session, clock, owner, lease, delivery_ids)
        session.commit()
    return claimed


def candidates(engine: Engine, clock: Clock, limit: int) -> list[tuple[str, str]]:
    with Session(engine) as session:
        return outbox.candidates(session, clock, limit, set())


def breach_body(client_ids: list[str], aware_at: datetime, **extra) -> dict:
    return {
        "aware_at": aware_at.isoformat(),
        "nature": ["confidentiality"],
        "description": "Database dump exposed on a misconfigured bucket.",
        "status": "suspected",
        "client_ids": client_ids,
        "contact_point": "SCR security desk, +33 1 00 00 00 00",
        **ART33,
        **extra,
    }


def create(api: TestClient, staff: dict, body: dict) -> dict:
    response = api.post("/v1/breaches", json=body, headers=staff)
    assert response.status_code == 201, response.text
    return response.json()


def types_at(receiver: Receiver, path: str) -> list[str]:
    return [r.payload["type"] for r in receiver.at(path)]
