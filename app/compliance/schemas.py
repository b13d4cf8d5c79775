from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field


class CheckStatus(StrEnum):
    ok = "ok"
    warning = "warning"
    failing = "failing"


class Check(BaseModel):
    name: str = Field(examples=["instructions"])
    status: CheckStatus
    reason: str = Field(description="Why, in one sentence naming the rule.")
    items: list[dict[str, Any]] = Field(
        default_factory=list,
        description="The records behind the status (ids, deadlines, time left in seconds).",
    )


class ComplianceStatus(BaseModel):
    client_id: str
    client_name: str
    status: CheckStatus = Field(description="The worst of the checks.")
    failing: int
    warnings: int
    checked_at: datetime
    checks: list[Check]
