"""Written instructions (seed §2.2, SPEC §5): append-only versions, completeness, diff,
acknowledgement and objection; security exceptions and data-subject requests with timers."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.clock import MovableClock
from tests.conftest import Tenant, make_tenant, settle
from tests.helpers import register
from tests.receiver import Receiver

SHA = hashlib.sha256(b"annex 2").hexdigest()
COMPLETE = {
    "purposes": ["newsletter"],
    "data_categories": [
        {"name": "e-mail", "retention": "P3Y"},
        {"name": "health data", "retention": "P6M", "special_category": True},
    ],
    "data_subject_categories": ["subscribers"],
    "security_measures": ["TLS", "encryption at rest"],
    "evidence": {
        "document_ref": "Annex 2",
        "document_sha256": SHA,
        "signed_by": "C. Dupont",
        "received_at": "2026-03-01T10:00:00+01:00",
    },
}


def test_versions_are_append_only_and_diffable(api: TestClient, tenant_a: Tenant) -> None:
    url = f"/v1/clients/{tenant_a.id}/instructions"
    first = api.post(url, json={"purposes": ["newsletter"]}, headers=tenant_a.headers).json()
    assert first["version"] == 1
    assert first["complete"] is False
    assert first["missing"] == [
        "data_categories",
        "security_measures",
        "evidence (the written instruction)",
    ]
    assert len(first["processing_operations"]) == 18  # the GDPR definition by default
    second_body = {**COMPLETE, "data_categories": [{"name": "e-mail"}]}
    second = api.post(url, json=second_body, headers=tenant_a.headers).json()
    assert second["missing"] == ["retention of 'e-mail'"]
    third = api.post(
        url, json={**COMPLETE, "processing_operations": []}, headers=tenant_a.headers
    ).json()
    assert third["missing"] == ["processing_operations"]
    fourth = api.post(url, json=COMPLETE, headers=tenant_a.headers).json()
    assert (fourth["version"], fourth["complete"], fourth["missing"]) == (4, True, [])

    for method in ("put", "patch", "delete"):
        response = api.request(method.upper(), f"{url}/1", json={}, headers=tenant_a.headers)
        assert response.status_code == 405, method
        assert response.headers["content-type"] == "application/problem+json"
    history = api.get(url, headers=tenant_a.headers).json()["items"]
    assert [v["version"] for v in history] == [4, 3, 2, 1]
    assert api.get(f"{url}/1", headers=tenant_a.headers).json() == first

    diff = api.get(f"{url}/2/diff/4", headers=tenant_a.headers).json()
    assert diff["data_categories_added"] == [
        {"name": "health data", "retention": "P6M", "special_category": True}
    ]
    assert diff["data_categories_changed"] == [
        {
            "name": "e-mail",
            "from": {"name": "e-mail", "retention": None, "special_category": False},
            "to": {"name": "e-mail", "retention": "P3Y", "special_category": False},
        }
    ]
    assert diff["purposes"] == {"added": [], "removed": []}
    back = api.get(f"{url}/4/diff/1", headers=tenant_a.headers).json()
    assert back["security_measures"]["removed"] == ["TLS", "encryption at rest"]
    assert "evidence" in back["changed"]


def test_only_written_instructions_become_current(
    api: TestClient, staff: dict, tenant_a: Tenant
) -> None:
    """Seed §2.2: no evidence, never current; other gaps need a recorded reason; missing
    security measures alone do not block (SCR's own measures apply)."""
    url = f"/v1/clients/{tenant_a.id}/instructions"

    def submit(body: dict) -> int:
        return api.post(url, json=body, headers=tenant_a.headers).json()["version"]

    unwritten = submit({k: v for k, v in COMPLETE.items() if k != "evidence"})
    refused = api.post(f"{url}/{unwritten}/acknowledge", headers=staff)
    assert refused.status_code == 422
    assert refused.json()["rule"] == "instruction-written-evidence"
    with_reason = api.post(
        f"{url}/{unwritten}/acknowledge",
        json={"accept_incomplete_reason": "The client said so on the phone"},
        headers=staff,
    )
    assert with_reason.status_code == 422  # no reason makes an unwritten instruction written
    assert api.get(f"{url}/{unwritten}", headers=staff).json()["status"] == "received"

    no_retention = submit({**COMPLETE, "data_categories": [{"name": "e-mail"}]})
    refused = api.post(f"{url}/{no_retention}/acknowledge", headers=staff)
    assert refused.status_code == 422
    assert refused.json()["rule"] == "instruction-incomplete"
    assert refused.json()["missing"] == ["retention of 'e-mail'"]
    accepted = api.post(
        f"{url}/{no_retention}/acknowledge",
        json={"accept_incomplete_reason": "Retention follows the client's policy, annex 4"},
        headers=staff,
    )
    assert accepted.status_code == 200, accepted.text
    current = api.get(f"{url}/current", headers=tenant_a.headers).json()
    assert current["version"] == no_retention
    assert current["accepted_incomplete_reason"] == "Retention follows the client's policy, annex 4"

    no_security = submit({**COMPLETE, "security_measures": []})
    plain = api.post(f"{url}/{no_security}/acknowledge", headers=staff)
    assert plain.status_code == 200, plain.text
    assert plain.json()["missing"] == ["security_measures"]
    assert plain.json()["accepted_incomplete_reason"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {"evidence": {**COMPLETE["evidence"], "document_sha256": "abc"}},
            "body.evidence.document_sha256",
        ),
        (
            {"evidence": {**COMPLETE["evidence"], "document_sha256": "g" * 64}},
            "body.evidence.document_sha256",
        ),
        (
            {"evidence": {**COMPLETE["evidence"], "received_at": "2026-03-03T00:00:00Z"}},
            "body.evidence.received_at",
        ),
        (
            {"data_categories": [{"name": "e-mail", "retention": "3 years"}]},
            "body.data_categories.0.retention",
        ),
        (
            {"data_categories": [{"name": "e-mail", "retention": "P0D"}]},
            "body.data_categories.0.retention",
        ),
    ],
)
def test_evidence_and_retention_are_validated(
    api: TestClient, tenant_a: Tenant, body: dict, field: str
) -> None:
    response = api.post(
        f"/v1/clients/{tenant_a.id}/instructions",
        json={**COMPLETE, **body},
        headers=tenant_a.headers,
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert field in {e["field"] for e in response.json()["errors"]}
    assert (
        api.get(f"/v1/clients/{tenant_a.id}/instructions", headers=tenant_a.headers).json()["items"]
        == []
    )


def test_acknowledge_supersedes_and_objection_is_urgent(
    live_app: FastAPI, live: TestClient, staff: dict, receiver: Receiver
) -> None:
    alpha = make_tenant(live, staff, "Alpha")
    register(live, alpha.headers, receiver, "/alpha")
    url = f"/v1/clients/{alpha.id}/instructions"
    for _ in range(3):
        live.post(url, json=COMPLETE, headers=alpha.headers)
    assert live.get(f"{url}/current", headers=alpha.headers).status_code == 404
    assert live.post(f"{url}/1/acknowledge", headers=alpha.headers).status_code == 403
    assert live.post(f"{url}/1/acknowledge", headers=staff).json()["status"] == "current"
    assert live.post(f"{url}/2/acknowledge", headers=staff).json()["status"] == "current"
    assert live.get(f"{url}/1", headers=staff).json()["status"] == "superseded"
    assert live.get(f"{url}/current", headers=alpha.headers).json()["version"] == 2
    objected = live.post(
        f"{url}/3/object", json={"reason": "Profiling without a legal basis"}, headers=staff
    )
    assert objected.json()["status"] == "objected"
    assert live.post(f"{url}/3/acknowledge", headers=staff).status_code == 409
    settle(live_app)
    messages = [r.payload for r in receiver.at("/alpha")]
    objection = next(m for m in messages if m["type"] == "instruction.objected")
    assert objection["data"]["reason"] == "Profiling without a legal basis"
    assert objection["data"]["version"] == 3
    events = live.get(
        "/v1/events", params={"type": "instruction.objected"}, headers=alpha.headers
    ).json()["items"]
    assert events[0]["urgent"] is True


def test_security_exceptions(
    live_app: FastAPI, live: TestClient, staff: dict, receiver: Receiver, clock: MovableClock
) -> None:
    alpha = make_tenant(live, staff, "Alpha")
    register(live, alpha.headers, receiver, "/alpha")
    url = f"/v1/clients/{alpha.id}/security-exceptions"
    start = clock.now() + timedelta(days=1)
    body = {
        "nature": "MFA off for the migration account",
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(days=5)).isoformat(),
        "impact_analysis": "Low: IP-restricted.",
        "requested_by": "C. Dupont",
    }
    backwards = {**body, "ends_at": (start - timedelta(hours=1)).isoformat()}
    assert api_rule(live.post(url, json=backwards, headers=alpha.headers)) == "exception-period"
    no_analysis = live.post(url, json={**body, "impact_analysis": ""}, headers=alpha.headers)
    assert no_analysis.status_code == 422
    assert no_analysis.json()["errors"][0]["field"] == "body.impact_analysis"
    created = live.post(url, json=body, headers=alpha.headers).json()
    rejected_one = live.post(url, json=body, headers=alpha.headers).json()
    approved = live.post(f"{url}/{created['id']}/approve", headers=staff)
    assert approved.json()["status"] == "approved"
    live.post(f"{url}/{rejected_one['id']}/reject", json={"reason": "No"}, headers=staff)
    settle(live_app)
    clock.set(start + timedelta(days=4))
    settle(live_app)
    clock.set(start + timedelta(days=5))
    settle(live_app)
    clock.advance(timedelta(days=2))
    settle(live_app)
    types = [r.payload["type"] for r in receiver.at("/alpha")]
    assert sorted(types) == sorted(
        [
            "security_exception.approved",
            "security_exception.rejected",
            "security_exception.ending_soon",
            "security_exception.ended",
        ]
    )
    assert live.get(f"{url}/{created['id']}", headers=alpha.headers).json()["status"] == "ended"


def api_rule(response) -> str:
    assert response.status_code == 422, response.text
    return response.json()["rule"]


def test_data_subject_requests(
    live_app: FastAPI, live: TestClient, staff: dict, receiver: Receiver, clock: MovableClock
) -> None:
    alpha, beta = make_tenant(live, staff, "Alpha"), make_tenant(live, staff, "Beta")
    register(live, alpha.headers, receiver, "/alpha")
    url = f"/v1/clients/{alpha.id}/data-subject-requests"
    due = clock.now() + timedelta(days=10)
    body = {"kind": "erasure", "subject_ref": "CUST-4711", "due_at": due.isoformat()}
    past = live.post(url, json={**body, "due_at": clock.now().isoformat()}, headers=alpha.headers)
    assert api_rule(past) == "dsr-due-in-future"
    created = live.post(url, json=body, headers=alpha.headers).json()
    assert (
        live.get(f"/v1/clients/{beta.id}/data-subject-requests", headers=beta.headers).json()[
            "items"
        ]
        == []
    )
    assert live.get(f"{url}/{created['id']}", headers=beta.headers).status_code == 404
    clock.set(due - timedelta(days=3))
    settle(live_app)
    clock.set(due - timedelta(days=1))
    settle(live_app)
    reminders = [r for r in receiver.at("/alpha") if r.payload["type"].endswith(".reminder")]
    assert len(reminders) == 2
    assert (
        live.post(
            f"{url}/{created['id']}/complete", json={"evidence": "x"}, headers=alpha.headers
        ).status_code
        == 403
    )
    done = live.post(
        f"{url}/{created['id']}/complete",
        json={"evidence": "Erased from CRM and backups, ticket 991"},
        headers=staff,
    )
    assert done.json()["status"] == "completed"
    clock.set(due + timedelta(days=1))
    settle(live_app)
    types = [r.payload["type"] for r in receiver.at("/alpha")]
    assert types.count("data_subject_request.reminder") == 2
    assert types[-1] == "data_subject_request.completed"
    assert "data_subject_request.overdue" not in types  # completed in time: never overdue


def test_an_uncompleted_data_subject_request_is_overdue_once_at_its_due_time(
    live_app: FastAPI, live: TestClient, staff: dict, receiver: Receiver, clock: MovableClock
) -> None:
    alpha = make_tenant(live, staff, "Alpha")
    register(live, alpha.headers, receiver, "/alpha", event_types=["data_subject_request.overdue"])
    register(live, staff, receiver, "/scr", event_types=["data_subject_request.overdue"])
    due = clock.now() + timedelta(days=10)
    live.post(
        f"/v1/clients/{alpha.id}/data-subject-requests",
        json={"kind": "rectification", "subject_ref": "CUST-12", "due_at": due.isoformat()},
        headers=alpha.headers,
    )
    clock.set(due - timedelta(milliseconds=1))
    settle(live_app)
    assert receiver.at("/alpha") == [] and receiver.at("/scr") == []
    clock.set(due)
    settle(live_app)
    clock.advance(timedelta(days=2))
    settle(live_app)
    for path in ("/alpha", "/scr"):
        (overdue,) = receiver.at(path)
        assert overdue.payload["data"]["subject_ref"] == "CUST-12"
        assert overdue.payload["data"]["status"] == "open"
