"""SPEC §10, compliance status: a new client's file is failing on instructions and contacts and
turns ok check by check as the data arrives; the overview puts the worst client first; an open
breach shows the time left on its deadline, and failing once the deadline passes unnotified."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.clock import MovableClock
from tests.conftest import Tenant, make_tenant, settle
from tests.receiver import Receiver

COMPLETE = {
    "purposes": ["Hosting"],
    "data_categories": [{"name": "server logs", "retention": "P1Y"}],
    "processing_operations": ["storage"],
    "security_measures": ["TLS"],
    "evidence": {
        "document_ref": "DPA annex 2",
        "document_sha256": "c" * 64,
        "signed_by": "Alpha CEO",
        "received_at": "2026-03-01T09:00:00Z",
    },
}
PROFILE = {
    "name": "Groupe SCR",
    "address": "1 rue de l'Exemple, 75001 Paris",
    "privacy_contact_email": "privacy@groupescr.fr",
    "security_measures": "Access control, encrypted backups.",
}


def checks(api: TestClient, client_id: str, headers: dict) -> dict[str, str]:
    answer = api.get(f"/v1/clients/{client_id}/compliance", headers=headers)
    assert answer.status_code == 200, answer.text
    return {c["name"]: c["status"] for c in answer.json()["checks"]} | {
        "overall": answer.json()["status"]
    }


def test_a_new_client_turns_ok_check_by_check(
    live_app: FastAPI, live: TestClient, staff: dict, receiver: Receiver, clock: MovableClock
) -> None:
    api = live
    alpha = make_tenant(api, staff, "Alpha")
    beta = make_tenant(api, staff, "Beta")
    start = checks(api, alpha.id, alpha.headers)
    assert start["instructions"] == start["contacts"] == start["breach_channel"] == "failing"
    assert start["processor_profile"] == "warning" and start["overall"] == "failing"

    contact = api.post(
        f"/v1/clients/{alpha.id}/contacts",
        json={
            "role": "dpo",
            "name": "DPO",
            "email": "dpo@alpha.example",
            "communicated_at": "2026-01-01T00:00:00Z",
        },
        headers=alpha.headers,
    )
    assert contact.status_code == 201
    assert checks(api, alpha.id, alpha.headers)["contacts"] == "ok"

    url = f"/v1/clients/{alpha.id}/instructions"
    assert api.post(url, json=COMPLETE, headers=alpha.headers).status_code == 201
    assert checks(api, alpha.id, alpha.headers)["instructions"] == "failing"  # not yet in force
    assert api.post(f"{url}/1/acknowledge", headers=staff).status_code == 200
    assert checks(api, alpha.id, alpha.headers)["instructions"] == "ok"

    endpoint = api.post(
        "/v1/webhook-endpoints", json={"url": receiver.url("/alpha")}, headers=alpha.headers
    ).json()
    receiver.trust("/alpha", endpoint["secret"])
    assert checks(api, alpha.id, alpha.headers)["breach_channel"] == "failing"  # never answered
    api.post(f"/v1/webhook-endpoints/{endpoint['id']}/test", headers=alpha.headers)
    settle(live_app)
    assert checks(api, alpha.id, alpha.headers)["breach_channel"] == "ok"

    assert api.put("/v1/processor", json=PROFILE, headers=staff).status_code == 200
    assert checks(api, alpha.id, alpha.headers)["overall"] == "ok"

    # The overview: Beta (nothing yet) before Alpha (in order); a client key may not read it.
    overview = api.get("/v1/compliance", headers=staff).json()
    assert [s["client_id"] for s in overview] == [beta.id, alpha.id]
    assert api.get("/v1/compliance", headers=alpha.headers).status_code == 403
    assert api.get(f"/v1/clients/{alpha.id}/compliance", headers=beta.headers).status_code == 404

    # A breach: notified at once through the healthy endpoint, so ok with its deadline shown;
    # for Beta (no channel at all) the 72 hours run out and the check fails.
    breach = api.post(
        "/v1/breaches",
        json={
            "aware_at": clock.now().isoformat(),
            "nature": ["availability"],
            "description": "Outage",
            "client_ids": [alpha.id, beta.id],
            "contact_point": "SCR",
        },
        headers=staff,
    ).json()
    beta_view = api.get(f"/v1/clients/{beta.id}/compliance", headers=beta.headers).json()
    (open_breach,) = next(c for c in beta_view["checks"] if c["name"] == "breaches")["items"]
    assert open_breach["breach_id"] == breach["id"]
    assert open_breach["seconds_left"] == 72 * 3600
    settle(live_app)
    assert checks(api, alpha.id, alpha.headers)["breaches"] == "ok"
    clock.advance(timedelta(hours=72))
    settle(live_app)
    assert checks(api, beta.id, beta.headers)["breaches"] == "failing"


def test_each_pending_duty_shows_in_its_own_check(
    api: TestClient, staff: dict, tenant_a: Tenant, clock: MovableClock
) -> None:
    """An audit awaiting SCR's decision and an exception in force are warnings; a data-subject
    request past its due date is failing, each with the record behind it."""
    base = f"/v1/clients/{tenant_a.id}"
    assert checks(api, tenant_a.id, tenant_a.headers)["audits"] == "ok"
    audit = api.post(
        f"{base}/audits",
        json={
            "kind": "documentary",
            "scope": "Hosting",
            "auditor": {"organisation": "Audit SA", "independent": True},
            "proposed_start": "2026-04-15",
            "proposed_end": "2026-04-17",
        },
        headers=tenant_a.headers,
    ).json()
    exception = api.post(
        f"{base}/security-exceptions",
        json={
            "nature": "Unencrypted export",
            "starts_at": (clock.now() + timedelta(hours=1)).isoformat(),
            "ends_at": (clock.now() + timedelta(days=2)).isoformat(),
            "impact_analysis": "low",
            "requested_by": "CTO",
        },
        headers=tenant_a.headers,
    ).json()
    approved = api.post(
        f"{base}/security-exceptions/{exception['id']}/approve",
        json={"reason": "Justified"},
        headers=staff,
    )
    assert approved.status_code == 200, approved.text
    dsr = api.post(
        f"{base}/data-subject-requests",
        json={
            "kind": "erasure",
            "subject_ref": "S-1",
            "due_at": (clock.now() + timedelta(days=1)).isoformat(),
        },
        headers=tenant_a.headers,
    ).json()
    before = checks(api, tenant_a.id, tenant_a.headers)
    assert before["audits"] == "warning"
    assert before["security_exceptions"] == "ok"  # approved, not yet in force
    assert before["data_subject_requests"] == "ok"

    clock.advance(timedelta(days=1, hours=1))
    answer = api.get(f"{base}/compliance", headers=tenant_a.headers).json()
    by_name = {c["name"]: c for c in answer["checks"]}
    assert by_name["security_exceptions"]["status"] == "warning"
    assert by_name["security_exceptions"]["items"][0]["exception_id"] == exception["id"]
    assert by_name["data_subject_requests"]["status"] == "failing"
    assert by_name["data_subject_requests"]["items"][0]["request_id"] == dsr["id"]
    assert by_name["audits"]["items"][0]["audit_id"] == audit["id"]
