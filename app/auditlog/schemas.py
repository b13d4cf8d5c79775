from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class AuditLogEntryPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    seq: int = Field(description="Position in the chain, from 1, without gaps.")
    created_at: datetime
    request_id: str | None = Field(description="The request's X-Request-Id.")
    key_id: str | None = Field(description="The API key that made the change (null for a contact).")
    role: str = Field(description="staff, client, contact (an e-mailed link) or operator (CLI).")
    contact_id: str | None = Field(description="The contact who answered through an e-mailed link.")
    client_id: str | None = Field(description="The client whose file the change belongs to.")
    method: str
    route: str = Field(description="The route's path template, e.g. /v1/clients/{client_id}.")
    status_code: int
    resource_ids: dict[str, str] = Field(
        description="The ids the change concerned: path parameters and the created resource's "
        "`result_id`."
    )
    summary: dict[str, Any] = Field(
        description="The fields the request sent (names only, never values), and for an answer "
        "through an e-mailed link, the action."
    )
    prev_hash: str = Field(description="The previous entry's hash (64 zeros for the first).")
    hash: str = Field(
        description="SHA-256 (hex) of prev_hash, a newline, and this entry's canonical JSON."
    )


class AuditLogVerification(BaseModel):
    intact: bool = Field(description="True when every entry follows from the one before.")
    entries: int = Field(description="Entries verified before the first break (all, if intact).")
    head_hash: str = Field(description="The hash of the last intact entry.")
    broken_seq: int | None = Field(None, description="The first entry that does not verify.")
    reason: str | None = Field(None, description="Why it does not.")
    verified_at: datetime
