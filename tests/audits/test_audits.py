"""Audit requests (seed §2.5, SPEC §7) through the API, with events and the reminder timer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.clock import MovableClock
from tests.conftest import Tenant, make_tenant, settle
from tests.helpers import breach_body, create, register
from tests.receiver import Receiver

# The suite's clock starts on Monday 2 March 2026, 09:00 UTC: received that day in Paris, the
# earliest start is Wednesday 15 April (30 working days, Easter Monday skipped).
EARLIEST = "2026-04-15"


def audit(**fields) -> dict:
    return {
        "kind": "on_site",
        "scope": "Hosting platform, access controls",
        "auditor": {"organisation": "Cabinet Audit SA", "person": "J. Martin", "independent": True},
        "proposed_start": EARLIEST,
        "proposed_end": "2026-04-17",
        **fields,
    }


def test_the_notice_rule_names_the_earliest_start(api: TestClient, tenant_a: Tenant) -> None:
    url = f"/v1/clients/{tenant_a.id}/audits"
    short = api.post(url, json=audit(proposed_start="2026-04-14"), headers=tenant_a.headers)
    assert short.status_code == 422
    body = short.json()
    assert body["rule"] == "audit-notice-30-working-days"
    assert body["earliest_start"] == EARLIEST
    assert EARLIEST in body["detail"]
    assert api.get(url, headers=tenant_a.headers).json()["items"] == []
    accepted = api.post(url, json=audit(), headers=tenant_a.headers)
    assert accepted.status_code == 201
    assert accepted.json()["status"] == "requested"
    assert accepted.json()["earliest_start"] == EARLIEST


def test_the_clients_time_zone_decides_the_day_of_receipt(
    api: TestClient, staff: dict, clock: MovableClock
) -> None:
    created = api.post(
        "/v1/clients",
        json={
            "name": "Caraïbes",
            "legal_name": "Caraïbes SARL",
            "country": "MQ",
            "calendar": "FR",
            "timezone": "America/Martinique",
        },
        headers=staff,
    ).json()
    clock.set(datetime(2026, 3, 6, 2, 30, tzinfo=UTC))  # Thursday 22:30 in Martinique
    response = api.post(
        f"/v1/clients/{created['id']}/audits",
        json=audit(proposed_start="2026-04-20", proposed_end="2026-04-21"),
        headers=staff,
    )
    assert response.status_code == 201, response.text
    assert response.json()["earliest_start"] == "2026-04-20"


def test_emergencies(api: TestClient, staff: dict, tenant_a: Tenant, tenant_b: Tenant) -> None:
    url = f"/v1/clients/{tenant_a.id}/audits"
    breach_a = create(api, staff, breach_body([tenant_a.id], datetime(2026, 3, 1, tzinfo=UTC)))
    breach_b = create(api, staff, breach_body([tenant_b.id], datetime(2026, 3, 1, tzinfo=UTC)))
    soon = {"proposed_start": "2026-03-04", "proposed_end": "2026-03-05"}

    pending = api.post(
        url,
        json=audit(**soon, emergency_basis="proven_breach", breach_id=breach_a["id"]),
        headers=tenant_a.headers,
    )
    assert pending.status_code == 201
    assert pending.json()["status"] == "pending_agreement"
    # Only staff agree, and then it is accepted.
    agree_url = f"{url}/{pending.json()['id']}/accept"
    assert api.post(agree_url, headers=tenant_a.headers).status_code == 403
    agreed = api.post(agree_url, json={"reason": "Agreed by phone"}, headers=staff)
    assert agreed.json()["status"] == "accepted"

    others = api.post(
        url,
        json=audit(**soon, emergency_basis="probable_breach", breach_id=breach_b["id"]),
        headers=tenant_a.headers,
    )
    assert others.status_code == 422
    assert others.json()["rule"] == "audit-emergency-breach"

    no_ref = api.post(url, json=audit(**soon, emergency_basis="court_order"), headers=staff)
    assert no_ref.status_code == 422
    assert no_ref.json()["errors"][0]["field"] == "body.court_order_ref"
    ordered = api.post(
        url,
        json=audit(**soon, emergency_basis="court_order", court_order_ref="TJ Paris 26/123"),
        headers=staff,
    )
    assert ordered.json()["status"] == "accepted"
    assert ordered.json()["court_order_verified_at"] is not None  # staff recorded it


def test_a_court_order_a_client_declares_is_checked_before_it_counts(
    api: TestClient, staff: dict, tenant_a: Tenant
) -> None:
    url = f"/v1/clients/{tenant_a.id}/audits"
    soon = {"proposed_start": "2026-03-09", "proposed_end": "2026-03-10"}
    declared = api.post(
        url,
        json=audit(**soon, emergency_basis="court_order", court_order_ref="anything"),
        headers=tenant_a.headers,
    )
    assert declared.status_code == 201, declared.text
    assert declared.json()["status"] == "pending_verification"
    assert declared.json()["court_order_verified_at"] is None
    audit_url = f"{url}/{declared.json()['id']}"
    unchecked = api.post(f"{audit_url}/accept", json={}, headers=staff)
    assert unchecked.status_code == 422
    assert unchecked.json()["rule"] == "audit-court-order-verification"
    assert {e["field"] for e in unchecked.json()["errors"]} == {
        "body.court_name",
        "body.court_order_date",
    }
    checked = api.post(
        f"{audit_url}/accept",
        json={
            "court_name": "Tribunal judiciaire de Paris",
            "court_order_date": "2026-02-27",
            "court_order_ref": "RG 26/01234",
        },
        headers=staff,
    )
    assert checked.status_code == 200, checked.text
    accepted = checked.json()
    assert accepted["status"] == "accepted"
    assert (accepted["court_name"], accepted["court_order_ref"]) == (
        "Tribunal judiciaire de Paris",
        "RG 26/01234",
    )
    assert accepted["court_order_verified_at"] is not None


def test_every_rejection_says_why(
    live_app: FastAPI, live: TestClient, staff: dict, receiver: Receiver
) -> None:
    alpha = make_tenant(live, staff, "Alpha")
    register(live, alpha.headers, receiver, "/alpha", event_types=["audit.rejected"])
    requested = live.post(
        f"/v1/clients/{alpha.id}/audits", json=audit(), headers=alpha.headers
    ).json()
    audit_url = f"/v1/clients/{alpha.id}/audits/{requested['id']}"
    for body in (None, {}, {"reason": ""}):
        silent = live.post(f"{audit_url}/reject", json=body, headers=staff)
        assert silent.status_code == 422, body
    assert live.get(audit_url, headers=staff).json()["status"] == "requested"
    rejected = live.post(
        f"{audit_url}/reject", json={"reason": "The auditor is a competitor."}, headers=staff
    )
    assert rejected.status_code == 200
    settle(live_app)
    (told,) = receiver.at("/alpha")
    assert told.payload["data"]["reason"] == "The auditor is a competitor."


def test_a_pen_test_needs_the_tripartite_agreement(
    api: TestClient, staff: dict, tenant_a: Tenant
) -> None:
    url = f"/v1/clients/{tenant_a.id}/audits"
    pentest = api.post(
        url,
        json=audit(kind="penetration_test", proposed_end="2026-04-24"),
        headers=tenant_a.headers,
    ).json()
    base = f"{url}/{pentest['id']}"
    assert api.post(f"{base}/accept", headers=staff).status_code == 200
    dates = {"start": "2026-04-20", "end": "2026-04-24"}
    agreement = {
        "testing_organisation": "RedTeam SAS",
        "window_start": "2026-04-21",
        "window_end": "2026-04-22",
        "nature_of_tests": "External web tests",
        "liability_release": True,
    }
    for bad in (
        None,
        {**agreement, "liability_release": False},
        {**agreement, "window_end": "2026-04-27"},
    ):
        refused = api.post(
            f"{base}/schedule", json={**dates, "pentest_agreement": bad}, headers=staff
        )
        assert refused.status_code == 422, bad
        assert refused.json()["rule"] == "pentest-tripartite-agreement"
    assert api.get(base, headers=staff).json()["status"] == "accepted"
    scheduled = api.post(
        f"{base}/schedule", json={**dates, "pentest_agreement": agreement}, headers=staff
    )
    assert scheduled.status_code == 200
    assert scheduled.json()["status"] == "scheduled"
    assert scheduled.json()["testing_organisation"] == "RedTeam SAS"
    too_early = api.post(f"{url}", json=audit(), headers=staff).json()
    api.post(f"{url}/{too_early['id']}/accept", headers=staff)
    early = api.post(
        f"{url}/{too_early['id']}/schedule",
        json={"start": "2026-04-14", "end": "2026-04-15"},
        headers=staff,
    )
    assert early.json()["rule"] == "audit-notice-30-working-days"


def test_lifecycle_events_and_the_reminder(
    live_app: FastAPI, live: TestClient, staff: dict, receiver: Receiver, clock: MovableClock
) -> None:
    alpha = make_tenant(live, staff, "Alpha")
    register(live, alpha.headers, receiver, "/alpha")
    register(live, staff, receiver, "/scr")
    url = f"/v1/clients/{alpha.id}/audits"
    created = live.post(url, json=audit(), headers=alpha.headers).json()
    base = f"{url}/{created['id']}"
    live.post(f"{base}/accept", headers=staff)
    live.post(f"{base}/schedule", json={"start": "2026-04-20", "end": "2026-04-21"}, headers=staff)
    settle(live_app)

    def types(path: str) -> list[str]:
        return [r.payload["type"] for r in receiver.at(path)]

    assert types("/scr") == ["audit.requested"]
    assert sorted(types("/alpha")) == ["audit.accepted", "audit.scheduled"]  # order not guaranteed
    # The reminder: a week before the start, 09:00 in Paris (07:00 UTC in April).
    reminder_at = datetime(2026, 4, 13, 7, 0, tzinfo=UTC)
    clock.set(reminder_at - timedelta(seconds=1))
    settle(live_app)
    assert "audit.reminder" not in types("/alpha")
    clock.set(reminder_at)
    settle(live_app)
    clock.advance(timedelta(days=3))
    settle(live_app)
    assert types("/alpha").count("audit.reminder") == 1
    assert types("/scr").count("audit.reminder") == 1
    completed = live.post(f"{base}/complete", headers=staff)
    assert completed.json()["status"] == "completed"
    assert live.post(f"{base}/cancel", headers=alpha.headers).status_code == 409
    settle(live_app)
    assert types("/alpha")[-1] == "audit.completed"

    later = audit(proposed_start="2026-07-01", proposed_end="2026-07-02")
    cancelled = live.post(url, json=later, headers=alpha.headers).json()
    assert live.post(f"{url}/{cancelled['id']}/cancel", headers=alpha.headers).status_code == 200
    settle(live_app)
    # The client's cancellation goes to SCR. Not necessarily last: its request, pending at the
    # same time, may arrive after it (SPEC §9: order not guaranteed).
    about_it = [
        r.payload for r in receiver.at("/scr") if r.payload["data"]["audit_id"] == cancelled["id"]
    ]
    assert sorted(p["type"] for p in about_it) == ["audit.cancelled", "audit.requested"]
    assert types("/alpha")[-1] == "audit.completed"  # nothing of it to the client itself


def test_calendar_endpoints(api: TestClient, tenant_a: Tenant) -> None:
    headers = tenant_a.headers
    earliest = api.get(
        "/v1/calendar/earliest-audit-start",
        params={"received": "2026-03-02", "calendar": "FR-57"},
        headers=headers,
    ).json()
    assert earliest["earliest_start"] == "2026-04-16"
    assert earliest["notice_ends"] == "2026-04-15"
    days = api.get(
        "/v1/calendar/working-days",
        params={"start": "2026-04-30", "days": 3, "calendar": "FR"},
        headers=headers,
    ).json()
    assert days["working_days"] == ["2026-05-04", "2026-05-05", "2026-05-06"]
    holidays = api.get(
        "/v1/calendar/holidays", params={"year": 2026, "calendar": "DE-BY"}, headers=headers
    ).json()
    assert {"date": "2026-01-06", "name": holidays[1]["name"]} in holidays
    unknown = api.get(
        "/v1/calendar/holidays", params={"year": 2026, "calendar": "FR-999"}, headers=headers
    )
    assert unknown.status_code == 422
    body = unknown.json()
    assert body["rule"] == "unknown-calendar"
    assert "FR" in body["supported_countries"]
    assert "FR-57" in body["supported_subdivisions"]
    assert api.get("/v1/calendar/holidays", params={"year": 2026}).status_code == 401
