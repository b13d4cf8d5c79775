"""Client → SCR reports (SPEC §8.2), the e-mail fallback (§8.1) and disclosure requests (§8.3)."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.clock import MovableClock
from tests.conftest import Mailbox, Tenant, make_tenant, settle
from tests.helpers import breach_body, create, register, types_at
from tests.receiver import Answer, Receiver


def report_body(aware_at) -> dict:
    body = breach_body([], aware_at)
    body.pop("client_ids")
    return body


def test_a_client_report_reaches_staff_with_reminders_until_staff_acknowledge(
    live_app: FastAPI, live: TestClient, staff: dict, receiver: Receiver, clock: MovableClock
) -> None:
    alpha = make_tenant(live, staff, "Alpha")
    register(live, staff, receiver, "/scr", event_types=["breach.reported", "breach.reminder"])
    register(live, alpha.headers, receiver, "/alpha", event_types=["breach.acknowledged"])
    aware_at = clock.now() - timedelta(hours=1)
    reported = live.post(
        f"/v1/clients/{alpha.id}/breaches", json=report_body(aware_at), headers=alpha.headers
    )
    assert reported.status_code == 201, reported.text
    breach = reported.json()
    assert breach["reported_by_client_id"] == alpha.id
    settle(live_app)
    (notice,) = receiver.at("/scr")
    assert notice.payload["type"] == "breach.reported"
    assert notice.payload["data"]["reported_by_client_id"] == alpha.id
    assert notice.payload["data"]["notify_deadline"] == (aware_at + timedelta(hours=72)).isoformat()

    clock.set(aware_at + timedelta(hours=24))
    settle(live_app)
    assert types_at(receiver, "/scr") == ["breach.reported", "breach.reminder"]
    # The client cannot acknowledge its own report; staff do, and the client is told.
    url = f"/v1/breaches/{breach['id']}/acknowledge"
    assert live.post(url, headers=alpha.headers).status_code == 403
    acknowledged = live.post(url, headers=staff)
    assert acknowledged.status_code == 200
    assert acknowledged.json()["staff_acknowledged_at"] is not None
    clock.set(aware_at + timedelta(hours=70))
    settle(live_app)
    assert types_at(receiver, "/scr") == ["breach.reported", "breach.reminder"]
    assert types_at(receiver, "/alpha") == ["breach.acknowledged"]
    timeline = live.get(f"/v1/breaches/{breach['id']}/timeline", headers=staff).json()
    assert [e["event_type"] for e in timeline if e["kind"] == "event"] == [
        "breach.reported",
        "breach.reminder",
        "breach.acknowledged",
    ]


def add_contacts(api: TestClient, tenant: Tenant) -> None:
    for role, email in (
        ("dpo", "dpo@alpha.example"),
        ("security", "soc@alpha.example"),
        ("legal", "legal@alpha.example"),
    ):
        response = api.post(
            f"/v1/clients/{tenant.id}/contacts",
            json={
                "role": role,
                "name": role,
                "email": email,
                "communicated_at": "2026-01-01T00:00:00Z",
            },
            headers=tenant.headers,
        )
        assert response.status_code == 201


def test_email_goes_to_dpo_and_security_when_the_client_has_no_breach_endpoint(
    mailing_app: FastAPI, staff: dict, mailbox: Mailbox, clock: MovableClock
) -> None:
    api = mailing_app.state.client
    alpha = make_tenant(api, staff, "Alpha")
    add_contacts(api, alpha)
    breach = create(api, staff, breach_body([alpha.id], clock.now()))
    settle(mailing_app)
    # One message per contact (each carries its own answer link); not to the legal contact.
    assert sorted(m["to"][0] for m in mailbox.messages) == [
        "dpo@alpha.example",
        "soc@alpha.example",
    ]
    for text in mailbox.texts():
        assert breach["id"] in text
        assert "notify_deadline" in text
    view = api.get(f"/v1/breaches/{breach['id']}", headers=alpha.headers).json()
    assert view["notices"][0]["notified_at"] is not None
    assert view["notices"][0]["notified_via"] == "email"
    timeline = api.get(f"/v1/breaches/{breach['id']}/timeline", headers=alpha.headers).json()
    assert [(e["kind"], e["outcome"]) for e in timeline if e["kind"] == "email"] == [
        ("email", "success"),
        ("email", "success"),
    ]


def test_email_follows_when_endpoints_fail_for_15_minutes(
    mailing_app: FastAPI, staff: dict, mailbox: Mailbox, receiver: Receiver, clock: MovableClock
) -> None:
    api = mailing_app.state.client
    alpha = make_tenant(api, staff, "Alpha")
    add_contacts(api, alpha)
    receiver.script("/alpha", default=Answer(500))
    register(api, alpha.headers, receiver, "/alpha")
    breach = create(api, staff, breach_body([alpha.id], clock.now()))
    settle(mailing_app)
    assert mailbox.messages == []
    clock.advance(timedelta(minutes=15))
    settle(mailing_app)
    assert sorted(m["to"][0] for m in mailbox.messages) == [
        "dpo@alpha.example",
        "soc@alpha.example",
    ]
    timeline = api.get(f"/v1/breaches/{breach['id']}/timeline", headers=staff).json()
    kinds = [e["kind"] for e in timeline]
    assert kinds.count("email") == 2
    assert kinds.index("email") > kinds.index("attempt")  # after the failed webhooks
    assert [e["at"] for e in timeline] == sorted(e["at"] for e in timeline)


def test_a_failed_email_is_logged_and_retried(
    live_app: FastAPI, live: TestClient, staff: dict, clock: MovableClock
) -> None:
    """No SMTP server configured here: each attempt fails visibly and is retried, never
    dropped in silence."""
    alpha = make_tenant(live, staff, "Alpha")
    add_contacts(live, alpha)
    breach = create(live, staff, breach_body([alpha.id], clock.now()))
    settle(live_app)
    clock.advance(timedelta(seconds=6))
    settle(live_app)
    timeline = live.get(f"/v1/breaches/{breach['id']}/timeline", headers=staff).json()
    emails = [e for e in timeline if e["kind"] == "email"]
    # Two contacts, two rounds (the first at once, the retry after 5 s): four failed attempts.
    assert [e["outcome"] for e in emails] == ["failure"] * 4
    assert all("DPA_SMTP_HOST" in e["error"] for e in emails)
    view = live.get(f"/v1/breaches/{breach['id']}", headers=staff).json()
    assert view["notices"][0]["state"] == "pending"


def test_disclosure_requests_are_told_at_once_unless_prohibited(
    live_app: FastAPI, live: TestClient, staff: dict, receiver: Receiver
) -> None:
    alpha = make_tenant(live, staff, "Alpha")
    register(live, alpha.headers, receiver, "/alpha")
    url = f"/v1/clients/{alpha.id}/disclosure-requests"
    base = {
        "authority": "Police judiciaire",
        "reference": "PV-1",
        "received_at": "2026-03-02T08:00:00Z",
        "legally_binding": True,
        "data_requested": "Order history of one customer",
    }
    told = live.post(url, json=base, headers=staff)
    assert told.status_code == 201
    # Written, not yet received: pending, never "notified" (SPEC §8.4).
    assert (told.json()["status"], told.json()["notified_at"]) == ("pending", None)
    held = live.post(
        url,
        json={
            **base,
            "reference": "PV-2",
            "notification_prohibited": True,
            "prohibition_legal_basis": "Code de procédure pénale, art. 11",
        },
        headers=staff,
    )
    assert held.json()["status"] == "held"
    settle(live_app)
    received = receiver.at("/alpha")
    assert [(r.payload["type"], r.payload["data"]["reference"]) for r in received] == [
        ("disclosure_request.received", "PV-1")
    ]
    now_told = live.get(f"{url}/{told.json()['id']}", headers=staff).json()
    assert now_told["status"] == "notified"
    assert now_told["notified_at"] is not None  # the receiver's 2xx
    # A client sees its released requests, never a held one (the law forbids telling it).
    assert [r["reference"] for r in live.get(url, headers=alpha.headers).json()["items"]] == [
        "PV-1"
    ]
    assert live.get(f"{url}/{held.json()['id']}", headers=alpha.headers).status_code == 404
    lifted = live.post(f"{url}/{held.json()['id']}/lift-prohibition", headers=staff)
    assert lifted.status_code == 200
    assert lifted.json()["status"] == "pending"
    settle(live_app)
    assert [r.payload["data"]["reference"] for r in receiver.at("/alpha")] == ["PV-1", "PV-2"]
    assert live.get(f"{url}/{held.json()['id']}", headers=alpha.headers).json()["status"] == (
        "notified"
    )
    again = live.post(f"{url}/{held.json()['id']}/lift-prohibition", headers=staff)
    assert again.status_code == 409
    missing_basis = live.post(url, json={**base, "notification_prohibited": True}, headers=staff)
    assert missing_basis.status_code == 422
