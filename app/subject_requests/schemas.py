from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from app.bounds import Moment


class DsrStatus(StrEnum):
    """open until staff record it done, with evidence."""

    open = "open"
    completed = "completed"


class DsrKind(StrEnum):
    rectification = "rectification"
    erasure = "erasure"
    restriction = "restriction"
    access = "access"
    portability = "portability"


class DsrCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: DsrKind
    subject_ref: str = Field(
        min_length=1,
        max_length=200,
        description="The client's reference for the person: no more personal data than needed.",
    )
    details: str | None = Field(None, max_length=10_000)
    due_at: Moment


class Completion(BaseModel):
    model_config = ConfigDict(extra="forbid")

    evidence: str = Field(min_length=1, max_length=10_000, description="What was done, and proof.")


class DsrPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    client_id: str
    kind: DsrKind
    subject_ref: str
    details: str | None
    due_at: datetime
    status: DsrStatus
    completed_at: datetime | None
    completion_evidence: str | None
    created_at: datetime
