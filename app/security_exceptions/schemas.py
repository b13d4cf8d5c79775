from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from app.bounds import Moment


class ExceptionStatus(StrEnum):
    """requested → approved or rejected; an approved exception is ended when its period ends."""

    requested = "requested"
    approved = "approved"
    rejected = "rejected"
    ended = "ended"


class ExceptionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    nature: str = Field(min_length=1, max_length=10_000)
    starts_at: Moment
    ends_at: Moment
    impact_analysis: str = Field(min_length=1, max_length=50_000)
    requested_by: str = Field(min_length=1, max_length=200)


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(None, max_length=10_000)


class ExceptionPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    client_id: str
    nature: str
    starts_at: datetime
    ends_at: datetime
    impact_analysis: str
    requested_by: str
    status: ExceptionStatus
    decision_reason: str | None
    decided_at: datetime | None
    created_at: datetime
