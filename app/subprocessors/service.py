"""The sub-processor register (seed §2.8-2.9, GDPR Art. 28(4)): what each sub-processor does and
where, the transfer guard, and who sees which. Where one stands for a client is in
authorisation.py; the change notices clients may object to are in changes.py."""

from __future__ import annotations

import json
from datetime import date

from sqlalchemy import ColumnElement, String, cast
from sqlmodel import Session, col, select

from app.auth.principal import Principal, load, scoped
from app.clients import service as clients_service
from app.clock import Clock
from app.errors import Conflict, RuleViolation, field_errors
from app.ids import new_id
from app.pagination import PageParams, Rows, paginate
from app.subprocessors import transfers
from app.subprocessors.models import (
    SubProcessor,
)
from app.subprocessors.schemas import (
    CountryStanding,
    Mechanism,
    SubProcessorCreate,
    SubProcessorPublic,
    SubProcessorStatus,
    SubProcessorUpdate,
)

SAFEGUARDS = {Mechanism.scc.value, Mechanism.bcr.value}


def assessment(sub: SubProcessor) -> transfers.Assessment:
    return transfers.assess(
        sub.processing_countries,
        dpf_certified=sub.dpf_certified,
        commercial_organisation=sub.commercial_organisation,
    )


def check_clients(session: Session, client_ids: list[str], field: str) -> list[str]:
    unknown = clients_service.unknown_clients(session, client_ids)
    if unknown:
        raise RuleViolation(
            "unknown-client",
            f"No client with id {unknown[0]!r}.",
            errors=field_errors(field, f"unknown client {unknown[0]}"),
        )
    return list(dict.fromkeys(client_ids))


def _guard(sub: SubProcessor) -> None:
    """Seed §2.9, Art. 46: no transfer outside adequate protection without SCC or BCR."""
    needing = assessment(sub).needs_safeguards
    if needing and sub.transfer_mechanism not in SAFEGUARDS:
        raise RuleViolation(
            "transfer-guard-safeguards",
            f"{sub.name} processes data in {', '.join(needing)}, outside the EEA and without an "
            "adequacy decision that covers it: it cannot become active without appropriate "
            "safeguards (transfer_mechanism scc or bcr), and each client's consent.",
            countries_needing_safeguards=needing,
        )


def _bound_by_agreement(sub: SubProcessor) -> None:
    """GDPR Art. 28(4): a sub-processor is bound by a written contract with the same data
    protection obligations before it processes anything."""
    missing = [
        name for name in ("agreement_ref", "agreement_signed_on") if getattr(sub, name) is None
    ]
    if missing:
        raise RuleViolation(
            "subprocessor-written-agreement",
            f"{sub.name} cannot be active without its written sub-processing agreement (GDPR "
            f"Art. 28(4)): record {' and '.join(missing)} first.",
            errors=[e for name in missing for e in field_errors(f"body.{name}", "required")],
        )


def create_subprocessor(session: Session, clock: Clock, data: SubProcessorCreate) -> SubProcessor:
    now = clock.now()
    sub = SubProcessor(
        id=new_id("spr"),
        status=SubProcessorStatus.proposed.value,
        created_at=now,
        updated_at=now,
        **data.model_dump(mode="json", exclude={"client_ids", "agreement_signed_on"}),
        agreement_signed_on=data.agreement_signed_on,
        client_ids=check_clients(session, data.client_ids, "body.client_ids"),
    )
    session.add(sub)
    session.flush()
    return sub


def update_subprocessor(
    session: Session, clock: Clock, sub: SubProcessor, data: SubProcessorUpdate
) -> SubProcessor:
    changes = data.model_dump(mode="json", exclude_unset=True)
    if changes.get("client_ids") is not None:
        changes["client_ids"] = check_clients(session, changes["client_ids"], "body.client_ids")
    for name, value in changes.items():
        if value is None and name not in ("agreement_ref", "agreement_signed_on"):
            raise RuleViolation("field-required", f"{name} cannot be null.")
        setattr(sub, name, value)
    if isinstance(sub.agreement_signed_on, str):
        sub.agreement_signed_on = date.fromisoformat(sub.agreement_signed_on)
    if sub.status == SubProcessorStatus.active.value:
        _bound_by_agreement(sub)
        _guard(sub)
    sub.updated_at = clock.now()
    session.add(sub)
    session.flush()
    return sub


def set_status(
    session: Session, clock: Clock, sub: SubProcessor, status: SubProcessorStatus
) -> SubProcessor:
    if status is SubProcessorStatus.active:
        _bound_by_agreement(sub)
        _guard(sub)
    if sub.status == SubProcessorStatus.retired.value:
        raise Conflict(f"Sub-processor {sub.id} is retired.")
    sub.status = status.value
    sub.updated_at = clock.now()
    session.add(sub)
    session.flush()
    return sub


def get_subprocessor(session: Session, principal: Principal, sub_id: str) -> SubProcessor:
    return load(session, principal, SubProcessor, sub_id, serves, "sub-processor")


def serves(client_id: str) -> ColumnElement[bool]:
    """The sub-processor serves this client. Membership in the JSON list, the same SQL on both
    backends: the list's text holds the quoted id (LIKE wildcards escaped)."""
    return cast(col(SubProcessor.client_ids), String).contains(
        json.dumps(client_id), autoescape=True
    )


def list_subprocessors(
    session: Session, principal: Principal, params: PageParams
) -> Rows[SubProcessor]:
    statement = scoped(select(SubProcessor), principal, serves)
    return paginate(session, statement, SubProcessor, params)


def view(sub: SubProcessor, principal: Principal) -> SubProcessorPublic:
    return SubProcessorPublic(
        **sub.model_dump(exclude={"client_ids"}),
        client_ids=sub.client_ids if principal.client_id is None else [principal.client_id],
        transfers=[
            CountryStanding(country=country, standing=standing.value)
            for country, standing in assessment(sub).countries.items()
        ],
        adequacy_list_checked_on=transfers.checked_on(),
    )
