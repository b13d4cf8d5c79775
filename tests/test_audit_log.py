"""SPEC §10, the audit log: every successful write leaves exactly one entry, in the change's own
transaction (a failed request leaves none), with the caller's key and request id; entries form
a SHA-256 chain that `verify` recomputes; a client key reads only its own entries.

The walk covers the route table: a write route without a step below fails the test, so a new
route cannot land without showing that it is logged."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from urllib.parse import urlsplit

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlmodel import Session

from app.auditlog.models import AuditLogEntry
from app.clock import MovableClock
from tests.conftest import Mailbox, Tenant, make_tenant, settle
from tests.helpers import route_table

WRITES = {"POST", "PUT", "PATCH", "DELETE"}
PARAM = re.compile(r"{(\w+)}")


def count(app: FastAPI) -> int:
    with Session(app.state.context.engine) as session:
        return session.scalar(select(func.count()).select_from(AuditLogEntry)) or 0


def last_entry(app: FastAPI) -> AuditLogEntry:
    with Session(app.state.context.engine) as session:
        return session.exec(  # type: ignore[call-overload]
            select(AuditLogEntry).order_by(AuditLogEntry.seq.desc()).limit(1)  # type: ignore[attr-defined]
        ).scalar_one()


class Walk:
    """Calls write routes and checks each leaves one entry (or none when it fails)."""

    def __init__(self, app: FastAPI, api: TestClient) -> None:
        self.app, self.api = app, api
        self.covered: set[tuple[str, str]] = set()

    def call(
        self,
        method: str,
        template: str,
        ids: dict[str, str],
        headers: dict[str, str],
        key_id: str | None,
        **kwargs: object,
    ) -> dict:
        url = PARAM.sub(lambda m: ids[m.group(1)], template)
        before = count(self.app)
        response = self.api.request(method, url, headers=headers, **kwargs)  # type: ignore[arg-type]
        assert 200 <= response.status_code < 300, (method, url, response.text)
        assert count(self.app) == before + 1, (method, template)
        entry = last_entry(self.app)
        assert entry.method == method and entry.route == template, (entry.method, entry.route)
        assert entry.key_id == key_id, (template, entry.key_id)
        assert entry.request_id == response.headers["x-request-id"]
        assert entry.status_code == response.status_code
        self.covered.add((method, template))
        try:
            return response.json()
        except ValueError:
            return {}


def test_every_write_route_leaves_one_entry_and_a_failure_none(
    mailing_app: FastAPI, staff: dict, mailbox: Mailbox, clock: MovableClock
) -> None:
    app = mailing_app
    api: TestClient = app.state.client
    staff_key = api.get("/v1/me", headers=staff).json()["key_id"]
    walk = Walk(app, api)
    S = staff, staff_key

    def as_(who: tuple[dict, str | None]) -> dict:
        return {"headers": who[0], "key_id": who[1]}

    client = walk.call("POST", "/v1/clients", {}, **as_(S), json=tenant_body("Alpha"))
    ids = {"client_id": client["id"]}
    key = walk.call("POST", "/v1/clients/{client_id}/api-keys", ids, **as_(S), json={"name": "a"})
    alpha = Tenant(client["id"], "Alpha", {"Authorization": f"Bearer {key['key']}"}, key["id"])
    A = alpha.headers, alpha.key_id
    walk.call("PATCH", "/v1/clients/{client_id}", ids, **as_(S), json={"contract_ref": "C-1"})
    contact = walk.call(
        "POST", "/v1/clients/{client_id}/contacts", ids, **as_(A), json=dpo("dpo@alpha.example")
    )
    ids["contact_id"] = contact["id"]
    spare = make_tenant(api, staff, "Spare")
    spare_key = api.post(
        f"/v1/clients/{spare.id}/api-keys", json={"name": "spare"}, headers=staff
    ).json()
    walk.call("DELETE", "/v1/api-keys/{key_id}", {"key_id": spare_key["id"]}, **as_(S))

    # Webhooks and events.
    endpoint = walk.call(
        "POST", "/v1/webhook-endpoints", ids, **as_(A), json={"url": "http://127.0.0.1:9/hook"}
    )
    ids["endpoint_id"] = endpoint["id"]
    walk.call("POST", "/v1/webhook-endpoints/{endpoint_id}/rotate-secret", ids, **as_(A))
    ping = walk.call("POST", "/v1/webhook-endpoints/{endpoint_id}/test", ids, **as_(A))
    walk.call(
        "POST",
        "/v1/webhook-endpoints/{endpoint_id}/recover",
        ids,
        **as_(A),
        params={"since": "2026-01-01T00:00:00Z"},
    )
    walk.call("POST", "/v1/events/{event_id}/redeliver", {"event_id": ping["id"]}, **as_(A))
    # Off, so that the breach below reaches the DPO by e-mail, with a link.
    walk.call(
        "PATCH", "/v1/webhook-endpoints/{endpoint_id}", ids, **as_(A), json={"enabled": False}
    )

    # Breaches, both ways; the e-mailed link answered by the DPO.
    breach = walk.call(
        "POST",
        "/v1/breaches",
        ids,
        **as_(S),
        json={
            "aware_at": clock.now().isoformat(),
            "nature": ["confidentiality"],
            "description": "Leak",
            "client_ids": [alpha.id],
            "contact_point": "SCR DPO",
        },
    )
    ids["breach_id"] = breach["id"]
    settle(app)
    link = urlsplit(mailbox.links()[-1]).path
    token = link.rsplit("/", 1)[1]
    walk.call(
        "POST", "/notices/{token}", {"token": token}, {}, None, data={"action": "acknowledge"}
    )
    entry = last_entry(app)
    assert entry.role == "contact" and entry.contact_id == contact["id"]
    assert entry.summary["action"] == "acknowledge" and token not in json.dumps(entry.resource_ids)
    second = api.post(
        "/v1/breaches",
        json={
            "aware_at": clock.now().isoformat(),
            "nature": ["availability"],
            "description": "Outage",
            "client_ids": [alpha.id],
            "contact_point": "SCR DPO",
        },
        headers=staff,
    ).json()
    walk.call("POST", "/v1/breaches/{breach_id}/acknowledge", {"breach_id": second["id"]}, **as_(A))
    walk.call("POST", "/v1/breaches/{breach_id}/updates", ids, **as_(S), json={"note": "Scope."})
    walk.call(
        "POST",
        "/v1/breaches/{breach_id}/delay-reasons",
        ids,
        **as_(S),
        json={"client_id": alpha.id, "reason": "Receiver down."},
    )
    walk.call("POST", "/v1/breaches/{breach_id}/close", ids, **as_(S))
    walk.call(
        "POST",
        "/v1/clients/{client_id}/breaches",
        ids,
        **as_(A),
        json={
            "aware_at": clock.now().isoformat(),
            "nature": ["integrity"],
            "description": "Client side",
            "contact_point": "Alpha DPO",
        },
    )

    # Disclosure requests.
    disclosure = walk.call(
        "POST",
        "/v1/clients/{client_id}/disclosure-requests",
        ids,
        **as_(S),
        json=disclosure_body(),
    )
    walk.call(
        "POST",
        "/v1/clients/{client_id}/disclosure-requests/{disclosure_id}/acknowledge",
        {**ids, "disclosure_id": disclosure["id"]},
        **as_(A),
    )
    gagged = api.post(
        f"/v1/clients/{alpha.id}/disclosure-requests",
        json={
            **disclosure_body(),
            "notification_prohibited": True,
            "prohibition_legal_basis": "Art. 60-1 CPP",
        },
        headers=staff,
    ).json()
    walk.call(
        "POST",
        "/v1/clients/{client_id}/disclosure-requests/{disclosure_id}/lift-prohibition",
        {**ids, "disclosure_id": gagged["id"]},
        **as_(S),
    )

    # Audits: one through its whole life, one rejected, one cancelled.
    audits = "/v1/clients/{client_id}/audits"
    made = [walk.call("POST", audits, ids, **as_(A), json=audit_body())]
    made += [api.post(PARAM.sub(alpha.id, audits), json=audit_body(), headers=alpha.headers).json()]
    made += [api.post(PARAM.sub(alpha.id, audits), json=audit_body(), headers=alpha.headers).json()]
    first, rejected, cancelled = ({**ids, "audit_id": a["id"]} for a in made)
    walk.call("POST", audits + "/{audit_id}/accept", first, **as_(S), json={"reason": "Fine"})
    walk.call(
        "POST",
        audits + "/{audit_id}/schedule",
        first,
        **as_(S),
        json={"start": "2026-04-20", "end": "2026-04-21"},
    )
    clock.set(clock.now().replace(month=4, day=22))
    walk.call("POST", audits + "/{audit_id}/complete", first, **as_(S))
    walk.call("POST", audits + "/{audit_id}/reject", rejected, **as_(S), json={"reason": "No"})
    walk.call("POST", audits + "/{audit_id}/cancel", cancelled, **as_(A))

    # Instructions, security exceptions, data-subject requests.
    instructions = "/v1/clients/{client_id}/instructions"
    evidence = {
        "document_ref": "DPA annex 2",
        "document_sha256": "a" * 64,
        "signed_by": "Alpha CEO",
        "received_at": "2026-03-01T09:00:00Z",
    }
    walk.call(
        "POST", instructions, ids, **as_(A), json={"purposes": ["Hosting"], "evidence": evidence}
    )
    api.post(PARAM.sub(alpha.id, instructions), json={"purposes": ["Mailing"]}, headers=A[0])
    walk.call(
        "POST",
        instructions + "/{version}/object",
        {**ids, "version": "2"},
        **as_(S),
        json={"reason": "Unlawful"},
    )
    walk.call(
        "POST",
        instructions + "/{version}/acknowledge",
        {**ids, "version": "1"},
        **as_(S),
        json={"accept_incomplete_reason": "Enough for hosting"},
    )
    exceptions = "/v1/clients/{client_id}/security-exceptions"
    approved = walk.call("POST", exceptions, ids, **as_(A), json=exception_body(clock))
    refused = api.post(PARAM.sub(alpha.id, exceptions), json=exception_body(clock), headers=A[0])
    walk.call(
        "POST",
        exceptions + "/{exception_id}/approve",
        {**ids, "exception_id": approved["id"]},
        **as_(S),
        json={"reason": "Justified"},
    )
    walk.call(
        "POST",
        exceptions + "/{exception_id}/reject",
        {**ids, "exception_id": refused.json()["id"]},
        **as_(S),
        json={"reason": "Not justified"},
    )
    dsrs = "/v1/clients/{client_id}/data-subject-requests"
    dsr = walk.call(
        "POST",
        dsrs,
        ids,
        **as_(A),
        json={
            "kind": "erasure",
            "subject_ref": "S-1",
            "due_at": (clock.now() + timedelta(days=10)).isoformat(),
        },
    )
    walk.call(
        "POST",
        dsrs + "/{request_id}/complete",
        {**ids, "request_id": dsr["id"]},
        **as_(S),
        json={"evidence": "Deleted"},
    )

    # Sub-processors: registry, the annex at signature, consent, a change notice answered.
    sub = walk.call("POST", "/v1/subprocessors", ids, **as_(S), json=sub_body("Mailer", ["FR"]))
    ids["subprocessor_id"] = sub["id"]
    walk.call(
        "PATCH",
        "/v1/subprocessors/{subprocessor_id}",
        ids,
        **as_(S),
        json={"client_ids": [alpha.id]},
    )
    walk.call(
        "POST",
        "/v1/clients/{client_id}/subprocessors/{subprocessor_id}/initial-acceptance",
        ids,
        **as_(S),
        json={"contract_ref": "DPA annex 3"},
    )
    walk.call("POST", "/v1/subprocessors/{subprocessor_id}/activate", ids, **as_(S))
    walk.call("POST", "/v1/subprocessors/{subprocessor_id}/retire", ids, **as_(S))
    abroad = api.post(
        "/v1/subprocessors",
        json={
            **sub_body("Offshore", ["IN"]),
            "transfer_mechanism": "scc",
            "client_ids": [alpha.id],
        },
        headers=staff,
    ).json()
    walk.call(
        "POST",
        "/v1/clients/{client_id}/subprocessors/{subprocessor_id}/consent",
        {**ids, "subprocessor_id": abroad["id"]},
        **as_(A),
        json={"document_ref": "letter"},
    )
    changes = []
    for name in ("New mailer", "Other mailer"):
        new_sub = api.post(
            "/v1/subprocessors",
            json={**sub_body(name, ["FR"]), "client_ids": [alpha.id]},
            headers=staff,
        ).json()
        changes.append(
            {
                "kind": "addition",
                "subprocessor_ids": [new_sub["id"]],
                "description": name,
                "effective_date": "2026-12-01",
            }
        )
    change = walk.call("POST", "/v1/subprocessor-changes", ids, **as_(S), json=changes[0])
    other = api.post("/v1/subprocessor-changes", json=changes[1], headers=staff).json()
    walk.call(
        "POST",
        "/v1/subprocessor-changes/{change_id}/objections",
        {"change_id": change["id"]},
        **as_(A),
        json={"reason": "Marketing data"},
    )
    walk.call(
        "POST",
        "/v1/subprocessor-changes/{change_id}/approvals",
        {"change_id": other["id"]},
        **as_(A),
        json={},
    )
    walk.call("POST", "/v1/clients/{client_id}/contacts/{contact_id}/end", ids, **as_(A))

    walk.call("PUT", "/v1/processor", {}, **as_(S), json={"name": "Groupe SCR"})
    feed = walk.call("POST", "/v1/clients/{client_id}/calendar-feeds", ids, **as_(A), json={})
    assert "calf_" not in json.dumps(last_entry(app).resource_ids)  # the token is not logged
    walk.call(
        "DELETE",
        "/v1/clients/{client_id}/calendar-feeds/{feed_id}",
        {**ids, "feed_id": feed["id"]},
        **as_(A),
    )

    writes = {(m, p) for m, p in route_table(app) if m in WRITES}
    assert writes - walk.covered == set(), "write routes the walk does not call"

    # A failed write leaves nothing: refused by a rule, by validation, by a missing key.
    before = count(app)
    assert api.post("/v1/clients", json={"name": ""}, headers=staff).status_code == 422
    assert api.post(f"/v1/clients/{alpha.id}/contacts/nope_0/end", headers=A[0]).status_code == 404
    assert api.post("/v1/clients", json=tenant_body("X")).status_code == 401
    assert count(app) == before

    # A client key reads only the entries about its own client; staff read them all.
    own = api.get("/v1/audit-log?limit=200", headers=A[0]).json()["items"]
    assert own and {item["client_id"] for item in own} == {alpha.id}
    everything = api.get("/v1/audit-log?limit=200", headers=staff).json()["items"]
    assert len(everything) > len(own)
    assert spare.id not in json.dumps(own)
    verified = api.get("/v1/audit-log/verify", headers=staff).json()
    assert verified["intact"] and verified["entries"] == count(app)


def tenant_body(name: str) -> dict:
    return {"name": name, "legal_name": f"{name} SAS", "country": "FR", "calendar": "FR"}


def dpo(email: str) -> dict:
    return {"role": "dpo", "name": "DPO", "email": email, "communicated_at": "2026-01-01T00:00Z"}


def disclosure_body() -> dict:
    return {
        "authority": "Police",
        "received_at": "2026-03-01T09:00:00Z",
        "legally_binding": True,
        "data_requested": "logs",
    }


def audit_body() -> dict:
    return {
        "kind": "documentary",
        "scope": "Hosting",
        "auditor": {"organisation": "Audit SA", "independent": True},
        "proposed_start": "2026-04-15",
        "proposed_end": "2026-04-17",
    }


def exception_body(clock: MovableClock) -> dict:
    return {
        "nature": "Unencrypted export",
        "starts_at": (clock.now() + timedelta(days=1)).isoformat(),
        "ends_at": (clock.now() + timedelta(days=2)).isoformat(),
        "impact_analysis": "low",
        "requested_by": "Alpha CTO",
    }


def sub_body(name: str, countries: list[str]) -> dict:
    return {
        "name": name,
        "legal_entity": f"{name} SAS",
        "service": "Mailing",
        "processing_countries": countries,
        "agreement_ref": "SPA-1",
        "agreement_signed_on": "2026-02-01",
    }
