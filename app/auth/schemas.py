from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Role(StrEnum):
    staff = "staff"
    client = "client"


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(
        None, min_length=1, max_length=200, description="What the key is for, e.g. `crm-sync`."
    )


class ApiKeyPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str = Field(examples=["key_01jd3k4m5n6p7q8r9s0t1v2w3x"])
    role: Role
    client_id: str | None
    name: str | None
    prefix: str = Field(
        description="`dpa_…` and the key's last four characters, to recognise it.",
        examples=["dpa_…x7Qe"],
    )
    created_at: datetime
    last_used_at: datetime | None = Field(description="Last authenticated request, to the minute.")
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyPublic):
    key: str = Field(description="The API key. Shown this once only: store it now.")


class Me(BaseModel):
    key_id: str
    role: Role
    client_id: str | None
