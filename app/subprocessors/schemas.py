from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Literal

import pycountry
from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.bounds import Day


class Mechanism(StrEnum):
    eea = "eea"
    adequacy = "adequacy"
    scc = "scc"
    bcr = "bcr"
    none = "none"


class SubProcessorStatus(StrEnum):
    proposed = "proposed"
    active = "active"
    retired = "retired"


class ChangeKind(StrEnum):
    addition = "addition"
    replacement = "replacement"
    removal = "removal"
    modification = "modification"


class Authorisation(StrEnum):
    authorised = "authorised"
    blocked_by_instructions = "blocked_by_instructions"
    notice_pending = "notice_pending"
    objection_window_open = "objection_window_open"
    pending_approval = "pending_approval"
    objected = "objected"
    consent_required = "consent_required"
    not_notified = "not_notified"
    retired = "retired"


class SubProcessorCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, examples=["Mailjet"])
    legal_entity: str = Field(min_length=1, max_length=300, examples=["Mailjet SAS"])
    service: str = Field(min_length=1, max_length=500, examples=["E-mail campaigns"])
    data_categories: list[str] = Field(default_factory=list, max_length=50)
    processing_countries: list[str] = Field(min_length=1, max_length=50, examples=[["FR"]])
    transfer_mechanism: Mechanism = Mechanism.none
    dpf_certified: bool = Field(
        False, description="Certified under the EU-US Data Privacy Framework."
    )
    commercial_organisation: bool = Field(
        True, description="Canada's adequacy covers commercial organisations (PIPEDA) only."
    )
    agreement_ref: str | None = Field(
        None,
        max_length=200,
        description="The written sub-processing agreement (GDPR Art. 28(4)); needed to activate.",
    )
    agreement_signed_on: Day | None = Field(
        None, description="When that agreement was signed; needed to activate."
    )
    client_ids: list[str] = Field(
        default_factory=list,
        max_length=10_000,
        description="Clients whose data it processes (or would): they are the ones told.",
    )

    @field_validator("processing_countries")
    @classmethod
    def _countries(cls, value: list[str]) -> list[str]:
        unknown = [c for c in value if pycountry.countries.get(alpha_2=c) is None]
        if unknown:
            raise ValueError(f"not ISO 3166-1 alpha-2 codes: {unknown}")
        return list(dict.fromkeys(value))


class SubProcessorUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    service: str | None = Field(None, min_length=1, max_length=500)
    data_categories: list[str] | None = Field(None, max_length=50)
    transfer_mechanism: Mechanism | None = None
    dpf_certified: bool | None = None
    agreement_ref: str | None = Field(None, max_length=200)
    agreement_signed_on: Day | None = None
    client_ids: list[str] | None = Field(None, max_length=10_000)


class CountryStanding(BaseModel):
    country: str
    standing: str = Field(description="eea, adequate or needs_safeguards")


class SubProcessorPublic(BaseModel):
    id: str = Field(examples=["spr_01jd3k4m5n6p7q8r9s0t1v2w3x"])
    name: str
    legal_entity: str
    service: str
    data_categories: list[str]
    processing_countries: list[str]
    transfer_mechanism: Mechanism
    dpf_certified: bool
    commercial_organisation: bool
    agreement_ref: str | None
    agreement_signed_on: date | None
    status: SubProcessorStatus
    client_ids: list[str] = Field(description="A client key sees only its own id here.")
    transfers: list[CountryStanding]
    adequacy_list_checked_on: str
    created_at: datetime
    updated_at: datetime


class ClientSubProcessor(SubProcessorPublic):
    authorisation: Authorisation
    authorisation_reason: str = Field(description="Why: the recorded facts behind the state.")
    objection_deadline: datetime | None
    consent_given_at: datetime | None
    initial_acceptance_ref: str | None = Field(
        description="The contract that listed it at signature, when it was accepted so."
    )


class InitialAcceptanceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    contract_ref: str = Field(
        min_length=1,
        max_length=200,
        description="The agreement whose annexed list of sub-processors, at signature, names it.",
        examples=["DPA-SCR-2025-031, annex 3"],
    )


class ChangeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: ChangeKind
    subprocessor_ids: list[str] = Field(min_length=1, max_length=100)
    description: str = Field(min_length=1, max_length=10_000)
    effective_date: Day
    client_ids: list[str] | None = Field(
        None,
        max_length=10_000,
        description="Default: every client whose data the sub-processors would touch.",
    )


class RecipientPublic(BaseModel):
    client_id: str
    requires_approval: bool
    state: Literal["notice_pending", "notified"] = Field(
        description="`notified` once the notice reached the client (a 2xx from one of its "
        "endpoints, its contacts' mail server accepting the e-mail, or its own answer)."
    )
    notified_at: datetime | None
    objection_deadline: datetime | None = Field(
        description="Counted from notified_at as French law counts periods (CPC art. 641/642), "
        "in the client's calendar and time zone; null until the notice has arrived."
    )
    response: str | None
    reason: str | None
    responded_at: datetime | None


class ChangePublic(BaseModel):
    id: str = Field(examples=["spc_01jd3k4m5n6p7q8r9s0t1v2w3x"])
    kind: ChangeKind
    subprocessor_ids: list[str]
    description: str
    effective_date: date
    created_at: datetime
    recipients: list[RecipientPublic] = Field(description="A client key sees only its own.")


class ResponseCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client_id: str | None = Field(None, max_length=40, description="Staff: on whose behalf.")
    reason: str | None = Field(None, max_length=10_000)


class ConsentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    document_ref: str | None = Field(None, max_length=200, description="The written consent.")
