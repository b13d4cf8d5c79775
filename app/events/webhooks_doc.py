"""The event contract in the OpenAPI document's `webhooks` section (OpenAPI 3.1): one entry per
event type, the Standard Webhooks body with that type's `data` model, so Swagger UI shows what a
receiver gets and a client can generate its receiver's types from `openapi/openapi.json`."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Body, FastAPI
from fastapi.responses import Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, create_model
from starlette.routing import BaseRoute

from app.events import contract, types

HEADERS = (
    "Signed as Standard Webhooks: `webhook-id` (the event id; the same on every retry, so a "
    "receiver can drop duplicates), `webhook-timestamp`, `webhook-signature` (`v1,` and the "
    "HMAC-SHA256 of `id.timestamp.body` with the endpoint's secret; two during a rotation). "
    "Answer any 2xx quickly; anything else is retried on the schedule (urgent types sooner)."
)


def envelope_name(event_type: str) -> str:
    words = event_type.replace(".", "_").split("_")
    return "".join(word.capitalize() for word in words) + "Event"


def envelope(event_type: str) -> type[BaseModel]:
    data_model = contract.MODELS[event_type]
    return create_model(
        envelope_name(event_type),
        __config__=ConfigDict(
            json_schema_extra={
                "examples": [
                    {
                        "type": event_type,
                        "timestamp": "2026-03-02T09:00:00.123456Z",
                        "data": contract.example(event_type),
                    }
                ]
            }
        ),
        # A Literal built at run time, one per event type: dynamic by nature.
        type=(Literal[event_type], Field(description="The event type.")),  # type: ignore[arg-type]
        timestamp=(datetime, Field(description="When the event was recorded (UTC).")),
        data=(data_model, ...),
    )


def publish(app: FastAPI, operation_id: Callable[[APIRoute], str]) -> None:
    """The event types as the app's OpenAPI `webhooks`. Their routes are built once per process
    and shared by every app made in it: they are only read, to write the document, and building
    them (a pydantic model and a FastAPI route per event type) was ~90 of create_app's ~100 ms,
    paid again by each of the test suite's ~800 apps."""
    app.webhooks.routes.extend(_routes(operation_id))


@functools.cache
def _routes(operation_id: Callable[[APIRoute], str]) -> tuple[BaseRoute, ...]:
    router = APIRouter()
    for event_type in types.EVENT_TYPES:
        model = envelope(event_type)
        urgency = "urgent" if types.is_urgent(event_type) else "not urgent"

        async def receiver(body: Any = Body(...)) -> None:  # documentation only, never served
            """A receiver's endpoint."""

        receiver.__annotations__["body"] = model
        router.post(
            event_type,
            name=event_type.replace(".", "-").replace("_", "-"),
            summary=f"{event_type} ({urgency})",
            description=f"{contract.MODELS[event_type].__doc__ or ''}\n\n{HEADERS}".strip(),
            tags=["events"],
            status_code=200,
            response_description="Any 2xx: received.",
            response_class=Response,
            generate_unique_id_function=operation_id,
        )(receiver)
    return tuple(router.routes)


def tidy(schema: dict[str, Any]) -> None:
    """A receiver's answer is any 2xx: no 422 to document (FastAPI adds one for a body)."""
    for item in schema.get("webhooks", {}).values():
        for operation in item.values():
            operation.get("responses", {}).pop("422", None)
    text = json.dumps({k: v for k, v in schema.items() if k != "components"})
    components = schema.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        if f"#/components/schemas/{name}" not in text and name in components:
            rest = json.dumps({k: v for k, v in components.items() if k != name})
            if f"#/components/schemas/{name}" not in rest:
                del components[name]
