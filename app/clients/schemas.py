from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from zoneinfo import available_timezones

import pycountry
from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    computed_field,
    field_validator,
    model_validator,
)

from app import workdays
from app.bounds import Moment


class SubprocessorAuthorisation(StrEnum):
    general = "general"
    specific = "specific"


class ContactRole(StrEnum):
    dpo = "dpo"
    privacy = "privacy"
    security = "security"
    legal = "legal"
    other = "other"


def _check_country(value: str) -> str:
    if pycountry.countries.get(alpha_2=value) is None:
        raise ValueError("must be an ISO 3166-1 alpha-2 country code such as FR")
    return value


def _check_calendar(value: str) -> str:
    if not workdays.is_supported(value):
        raise ValueError(
            "unknown holiday calendar; use a country code (FR) or a subdivision the holidays "
            "package knows (FR-57); GET /v1/calendar/holidays lists them"
        )
    return value


def _check_timezone(value: str) -> str:
    if value not in available_timezones():
        raise ValueError("must be an IANA time zone such as Europe/Paris")
    return value


class ClientCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, examples=["Boulangerie Martin"])
    legal_name: str = Field(min_length=1, max_length=300, examples=["Boulangerie Martin SARL"])
    country: str = Field(
        min_length=2, max_length=2, examples=["FR"], description="ISO 3166-1 alpha-2."
    )
    calendar: str = Field(
        "FR",
        max_length=16,
        examples=["FR", "FR-57"],
        description="Holiday calendar for working days (seed §2.5): `FR`, or a subdivision.",
    )
    timezone: str = Field("Europe/Paris", max_length=64, description="IANA time zone.")
    contract_ref: str | None = Field(None, max_length=200, examples=["DPA-2026-014"])
    subprocessor_authorisation: SubprocessorAuthorisation = Field(
        SubprocessorAuthorisation.general,
        description="`general`: may object to sub-processor changes; `specific`: must approve.",
    )
    objection_window_days: int = Field(
        30, ge=1, le=365, description="Days a client has to object to a sub-processor change."
    )

    _country = field_validator("country")(_check_country)
    _calendar = field_validator("calendar")(_check_calendar)
    _timezone = field_validator("timezone")(_check_timezone)


class ClientUpdate(BaseModel):
    """Only the fields sent change."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200)
    legal_name: str | None = Field(None, min_length=1, max_length=300)
    country: str | None = Field(None, min_length=2, max_length=2)
    calendar: str | None = Field(None, max_length=16)
    timezone: str | None = Field(None, max_length=64)
    contract_ref: str | None = Field(None, max_length=200)
    subprocessor_authorisation: SubprocessorAuthorisation | None = None
    objection_window_days: int | None = Field(None, ge=1, le=365)

    @field_validator("country")
    @classmethod
    def _country(cls, value: str | None) -> str | None:
        return None if value is None else _check_country(value)

    @field_validator("calendar")
    @classmethod
    def _calendar(cls, value: str | None) -> str | None:
        return None if value is None else _check_calendar(value)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str | None) -> str | None:
        return None if value is None else _check_timezone(value)

    @model_validator(mode="after")
    def _required_fields_not_null(self) -> ClientUpdate:
        for name in self.model_fields_set - {"contract_ref"}:
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null; leave it out to keep its value")
        return self


class ClientPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str = Field(examples=["cli_01jd3k4m5n6p7q8r9s0t1v2w3x"])
    name: str
    legal_name: str
    country: str
    calendar: str
    timezone: str
    contract_ref: str | None
    subprocessor_authorisation: SubprocessorAuthorisation
    objection_window_days: int
    created_at: datetime
    updated_at: datetime


class ContactCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: ContactRole
    name: str = Field(min_length=1, max_length=200, examples=["Claire Dupont"])
    email: EmailStr = Field(examples=["dpo@boulangerie-martin.fr"])
    phone: str | None = Field(None, max_length=50, examples=["+33 1 23 45 67 89"])
    communicated_at: Moment = Field(
        description="When the client communicated this contact in writing (seed §2.3)."
    )
    document_ref: str | None = Field(
        None, max_length=200, description="The letter or e-mail that communicated it."
    )


class ContactPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str = Field(examples=["con_01jd3k4m5n6p7q8r9s0t1v2w3x"])
    client_id: str
    role: ContactRole
    name: str
    email: str
    phone: str | None
    communicated_at: datetime
    document_ref: str | None
    created_at: datetime
    ended_at: datetime | None = Field(description="When this contact's term ended; null: current.")
    replaced_by_id: str | None = Field(description="The contact that took over (a new DPO).")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def current(self) -> bool:
        """True while the contact's term runs."""
        return self.ended_at is None
