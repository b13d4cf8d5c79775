"""SPEC §9, the event contract: every event type has a payload model, published in the OpenAPI
document's `webhooks` section; `emit()` refuses a payload that leaves its schema (so every event
the suite emits is checked against it), and the published schema accepts what the models do."""

from __future__ import annotations

import json

import jsonschema
import pytest
from fastapi import FastAPI
from sqlmodel import Session, func, select

from app.cli import DEFAULT_OPENAPI
from app.events import contract, types
from app.events import service as events
from app.events.models import Event
from app.events.webhooks_doc import envelope_name


def published() -> dict:
    return json.loads(DEFAULT_OPENAPI.read_text(encoding="utf-8"))


def test_every_event_type_has_a_model_and_a_webhooks_entry() -> None:
    spec = published()
    assert set(contract.MODELS) == set(types.EVENT_TYPES)
    assert set(spec["webhooks"]) == set(types.EVENT_TYPES)
    for event_type in types.EVENT_TYPES:
        body = spec["webhooks"][event_type]["post"]["requestBody"]["content"]["application/json"]
        assert body["schema"] == {"$ref": f"#/components/schemas/{envelope_name(event_type)}"}


@pytest.mark.parametrize("event_type", types.EVENT_TYPES)
def test_the_published_schema_accepts_the_example_and_refuses_drift(event_type: str) -> None:
    """What a receiver validates against (the document) agrees with what emit() enforces."""
    spec = published()
    schema = {
        "$ref": f"#/components/schemas/{envelope_name(event_type)}",
        "components": spec["components"],
    }
    message = {
        "type": event_type,
        "timestamp": "2026-03-02T09:00:00Z",
        "data": contract.example(event_type),
    }
    jsonschema.validate(message, schema, cls=jsonschema.Draft202012Validator)
    drifted = {**message, "data": {**message["data"], "undeclared": 1}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(drifted, schema, cls=jsonschema.Draft202012Validator)
    with pytest.raises(contract.PayloadError):
        contract.check(event_type, drifted["data"])


def test_an_event_that_leaves_its_schema_is_never_emitted(app: FastAPI) -> None:
    context = app.state.context
    with Session(context.engine) as session:
        with pytest.raises(contract.PayloadError, match=r"breach\.notified"):
            events.emit(session, context.clock, "breach.notified", "brc_1", {"client_id": "c"})
        session.rollback()
        assert session.exec(select(func.count()).select_from(Event)).one() == 0


def test_every_timer_kind_has_its_handler(app: FastAPI) -> None:
    """Timer kinds are their own enum (not event types); each has the function that fires it."""
    from app.events.timers import HANDLERS, TimerKind

    assert set(TimerKind) <= set(HANDLERS)
    assert not set(TimerKind) & {"breach.notified", "security_exception.ended"}
