from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class FeedCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200, examples=["DPO's calendar"])


class FeedPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str = Field(examples=["cal_01jd3k4m5n6p7q8r9s0t1v2w3x"])
    client_id: str
    name: str | None
    created_at: datetime
    revoked_at: datetime | None


class FeedCreated(FeedPublic):
    url: str = Field(
        description="The feed's address, token included: subscribe to it in a calendar app. "
        "Shown once; anyone holding it reads this client's deadlines."
    )
