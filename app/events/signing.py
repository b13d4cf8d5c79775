"""Standard Webhooks: secrets, headers and body of a message (SPEC §9)."""

from __future__ import annotations

import base64
import json
import secrets
from datetime import UTC, datetime

from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def body(event_type: str, created_at: datetime, data: str) -> str:
    """The message: its type, its time and its data, `data` being the event's data as JSON text,
    as the database holds it (compact, non-ASCII escaped: `app.db.dump_json`). It goes into the
    body as it is, not parsed and written again: a claim builds a body for every event it
    sends, and the round trip was ~10 us a delivery, in the claim that hands out the fan-out.
    Data written before (with spaces after separators) is the same JSON, spaced."""
    timestamp = created_at.isoformat().replace("+00:00", "Z")
    return f'{{"type":{json.dumps(event_type)},"timestamp":"{timestamp}","data":{data}}}'


def headers(
    message_id: str, payload: str, signing_secrets: list[str], at: datetime
) -> dict[str, str]:
    """`webhook-timestamp` is the wall-clock time of sending: receivers compare it with their own
    clock to refuse replays. During a rotation both secrets sign, so either verifies."""
    at = at.astimezone(UTC)
    signatures = " ".join(
        Webhook(secret).sign(message_id, at, payload) for secret in signing_secrets
    )
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signatures,
        "content-type": "application/json",
        "user-agent": "dpa-service-webhooks/1",
    }
