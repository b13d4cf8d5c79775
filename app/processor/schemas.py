from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, EmailStr, Field


class ProcessorUpdate(BaseModel):
    """The whole profile: a PUT replaces it with a new version."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=300, examples=["Groupe SCR"])
    address: str | None = Field(None, min_length=1, max_length=1000)
    representative: str | None = Field(
        None,
        min_length=1,
        max_length=1000,
        description="Art. 27 representative in the Union, for a processor established outside "
        "it; null when none is needed.",
    )
    privacy_contact_name: str | None = Field(None, min_length=1, max_length=200)
    privacy_contact_email: EmailStr | None = None
    privacy_contact_is_dpo: bool = Field(
        False, description="True when the contact is a designated DPO (Art. 37)."
    )
    security_measures: str | None = Field(
        None,
        min_length=1,
        max_length=20_000,
        description="General description of the technical and organisational security "
        "measures (Art. 30(2)(d), 32(1)).",
    )
    source: str | None = Field(
        None, max_length=500, description="Where these details come from (a document, a page)."
    )


class ProcessorPublic(ProcessorUpdate):
    model_config = ConfigDict(from_attributes=True, extra="ignore")

    version: int
    created_by: str
    created_at: datetime
    missing: list[str] = Field(
        description="What Art. 30(2) and 32(1) ask of the profile and it lacks: the compliance "
        "status and the record of processing list these, never invent them."
    )
