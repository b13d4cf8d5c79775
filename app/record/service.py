"""The record of processing activities a processor keeps (GDPR Art. 30(2), SPEC §10), built from
live data at the moment it is asked for: one entry per controller (client).

Nothing is invented: a field the data cannot fill is listed in `missing`. The CSV form is the
same record as rows (controller, section, item, value), one fact per row."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from app.auth.principal import Principal
from app.clients.models import Client, Contact
from app.clock import Clock
from app.instructions import service as instructions
from app.processor import service as processor
from app.subprocessors import authorisation as subprocessors
from app.subprocessors import transfers

CSV_COLUMNS = ("controller_id", "controller", "section", "item", "value")


def _safeguard(sub: Any, country: str, standing: transfers.Standing) -> str | None:
    """The legal basis of a transfer to a third country (Art. 45-46), or None if there is none."""
    if standing is transfers.Standing.adequate:
        if sub.dpf_certified and country == "US":
            return "adequacy decision (EU-US Data Privacy Framework, certified)"
        return "adequacy decision"
    if sub.transfer_mechanism == "scc":
        return "standard contractual clauses (SCC)"
    if sub.transfer_mechanism == "bcr":
        return "binding corporate rules (BCR)"
    return None


def controller_entry(
    session: Session, clock: Clock, principal: Principal, client: Client
) -> dict[str, Any]:
    missing: list[str] = []
    contacts = session.exec(
        select(Contact).where(Contact.client_id == client.id, col(Contact.ended_at).is_(None))
    ).all()
    dpo = next((c for c in contacts if c.role == "dpo"), None) or next(
        (c for c in contacts if c.role == "privacy"), None
    )
    if dpo is None:
        missing.append("controller.dpo_or_privacy_contact")
    version = instructions.in_force(session, client.id)
    categories: dict[str, Any] | None = None
    if version is None:
        missing.append("processing.instructions_in_force")
    else:
        categories = {
            "purposes": version.purposes,
            "processing_operations": version.processing_operations,
            "data_categories": version.data_categories,
            "data_subject_categories": version.data_subject_categories,
        }
        missing += [f"processing.{gap}" for gap in instructions.missing(version)]
    found_transfers = []
    for sub in subprocessors.client_view(session, clock, principal, client):
        if sub.status == "retired":
            continue
        for found in sub.transfers:  # each country's standing, as the registry shows it
            country, standing = found.country, transfers.Standing(found.standing)
            if standing is transfers.Standing.eea:
                continue
            safeguard = _safeguard(sub, country, standing)
            if safeguard is None:
                missing.append(f"transfers.{sub.id}.{country}.safeguard")
            found_transfers.append(
                {
                    "country": country,
                    "subprocessor_id": sub.id,
                    "subprocessor": sub.name,
                    "safeguard": safeguard,
                    "authorisation": sub.authorisation,
                }
            )
    return {
        "controller": {
            "client_id": client.id,
            "name": client.name,
            "legal_name": client.legal_name,
            "country": client.country,
            "contract_ref": client.contract_ref,
            "dpo_or_privacy_contact": (
                {"role": dpo.role, "name": dpo.name, "email": dpo.email} if dpo else None
            ),
        },
        "instruction_version": version.version if version else None,
        "instruction_status": version.status if version else None,
        "categories_of_processing": categories,
        "transfers": found_transfers,
        "client_security_measures": version.security_measures if version else [],
        "missing": missing,
    }


def build(
    session: Session, clock: Clock, principal: Principal, clients: list[Client]
) -> dict[str, Any]:
    profile = processor.current(session)
    processor_missing = [f"processor.{gap}" for gap in processor.missing(profile)]
    return {
        "produced_at": clock.now(),
        "processor": {
            "profile_version": profile.version if profile else None,
            "name": profile.name if profile else None,
            "address": profile.address if profile else None,
            "representative": profile.representative if profile else None,
            "privacy_contact": (
                {
                    "name": profile.privacy_contact_name,
                    "email": profile.privacy_contact_email,
                    "is_dpo": profile.privacy_contact_is_dpo,
                }
                if profile and profile.privacy_contact_email
                else None
            ),
            "security_measures": profile.security_measures if profile else None,
        },
        "missing": processor_missing,
        "controllers": [controller_entry(session, clock, principal, c) for c in clients],
    }


def all_clients(session: Session) -> list[Client]:
    return list(session.exec(select(Client).order_by(col(Client.name))).all())


def rows(record: dict[str, Any]) -> list[dict[str, str]]:
    """The record as (controller, section, item, value) rows, one fact per row."""
    found: list[dict[str, str]] = []

    def add(controller: dict[str, Any] | None, section: str, item: str, value: Any) -> None:
        if isinstance(value, list):
            for element in value:
                add(controller, section, item, element)
            return
        if isinstance(value, dict):
            value = "; ".join(f"{k}={v}" for k, v in value.items() if v is not None)
        found.append(
            {
                "controller_id": controller["client_id"] if controller else "",
                "controller": controller["legal_name"] if controller else "",
                "section": section,
                "item": item,
                "value": "" if value is None else str(value),
            }
        )

    add(None, "record", "produced_at", _instant(record["produced_at"]))
    for item, value in record["processor"].items():
        add(None, "processor", item, value)
    add(None, "missing", "missing", record["missing"])
    for entry in record["controllers"]:
        controller = entry["controller"]
        for item, value in controller.items():
            add(controller, "controller", item, value)
        add(controller, "instructions", "version", entry["instruction_version"])
        add(controller, "instructions", "status", entry["instruction_status"])
        for item, value in (entry["categories_of_processing"] or {}).items():
            add(controller, "processing", item, value)
        for transfer in entry["transfers"]:
            add(controller, "transfer", transfer["country"], transfer)
        add(controller, "security", "client_measures", entry["client_security_measures"])
        add(controller, "missing", "missing", entry["missing"])
    return found


def as_csv(record: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows(record))
    return out.getvalue()


def _instant(value: datetime) -> str:
    return value.isoformat()
