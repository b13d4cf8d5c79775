from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Any

import isodate
from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.bounds import Moment

# GDPR Art. 4(2): the operations that make up "processing".
GDPR_OPERATIONS = [
    "collection",
    "recording",
    "organisation",
    "structuring",
    "storage",
    "adaptation",
    "alteration",
    "retrieval",
    "consultation",
    "use",
    "disclosure by transmission",
    "dissemination",
    "making available",
    "alignment",
    "combination",
    "restriction",
    "erasure",
    "destruction",
]
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class DataCategory(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, examples=["customer e-mail addresses"])
    retention: str | None = Field(
        None, max_length=50, examples=["P3Y"], description="ISO 8601 duration (seed §2.2)."
    )
    special_category: bool = Field(False, description="GDPR Art. 9 data.")

    @field_validator("retention")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            duration = isodate.parse_duration(value)
        except (isodate.ISO8601Error, ValueError) as exc:
            raise ValueError("must be an ISO 8601 duration such as P3Y or P18M") from exc
        if not value.startswith("P") or not duration:
            raise ValueError("must be a positive ISO 8601 duration such as P3Y")
        return value


class Evidence(BaseModel):
    """The written instruction itself (seed §2.2: clear, precise, written)."""

    model_config = ConfigDict(extra="forbid")

    document_ref: str = Field(min_length=1, max_length=200, examples=["DPA annex 2, v3"])
    document_sha256: str = Field(description="SHA-256 of the document, 64 hex characters.")
    signed_by: str = Field(min_length=1, max_length=200)
    received_at: Moment

    @field_validator("document_sha256")
    @classmethod
    def _sha(cls, value: str) -> str:
        value = value.lower()
        if not _SHA256.match(value):
            raise ValueError("must be a SHA-256 digest: 64 hexadecimal characters")
        return value


class InstructionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    purposes: list[str] = Field(default_factory=list, max_length=100)
    data_categories: list[DataCategory] = Field(default_factory=list, max_length=200)
    data_subject_categories: list[str] = Field(default_factory=list, max_length=100)
    processing_operations: list[str] = Field(
        default_factory=lambda: list(GDPR_OPERATIONS),
        max_length=100,
        description="Default: every operation of the GDPR definition of processing (Art. 4(2)).",
    )
    security_measures: list[str] = Field(default_factory=list, max_length=200)
    third_country_transfers_allowed: bool = False
    evidence: Evidence | None = None


class InstructionStatus(StrEnum):
    received = "received"
    current = "current"
    superseded = "superseded"
    objected = "objected"


class InstructionPublic(BaseModel):
    id: str
    client_id: str
    version: int
    status: InstructionStatus
    complete: bool
    missing: list[str] = Field(description="What seed §2.2 asks for and this version lacks.")
    purposes: list[str]
    data_categories: list[DataCategory]
    data_subject_categories: list[str]
    processing_operations: list[str]
    security_measures: list[str]
    third_country_transfers_allowed: bool
    evidence: Evidence | None
    created_at: datetime
    acknowledged_at: datetime | None
    accepted_incomplete_reason: str | None = Field(
        description="Why SCR made this version current although elements were missing."
    )
    superseded_at: datetime | None
    objected_at: datetime | None
    objection_reason: str | None


class InstructionAcknowledge(BaseModel):
    model_config = ConfigDict(extra="forbid")

    accept_incomplete_reason: str | None = Field(
        None,
        min_length=1,
        max_length=2000,
        description="Required to make current a version that lacks elements other than security "
        "measures (seed §2.2); recorded and shown with the version.",
    )


class ListChange(BaseModel):
    added: list[Any]
    removed: list[Any]


class InstructionDiff(BaseModel):
    from_version: int
    to_version: int
    purposes: ListChange
    data_subject_categories: ListChange
    processing_operations: ListChange
    security_measures: ListChange
    data_categories_added: list[DataCategory]
    data_categories_removed: list[DataCategory]
    data_categories_changed: list[dict[str, Any]] = Field(
        description="Same name, other retention or special category: {name, from, to}."
    )
    changed: dict[str, dict[str, Any]] = Field(
        description="Other fields that differ: {field: {from, to}}."
    )


class Objection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(
        min_length=1,
        max_length=10_000,
        description="Why the instruction would infringe the law (GDPR Art. 28(3)).",
    )
