"""A notice counts only when it reaches the client (SPEC §8.4): pending until a 2xx, an accepted
e-mail or the client's acknowledgement; e-mailed to the DPO, privacy and security contacts and
escalated to SCR staff otherwise. Real app, real SMTP server and receivers on 127.0.0.1."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.clock import MovableClock
from tests.conftest import Mailbox, Tenant, make_tenant, settle
from tests.notices.helpers import announce, contact, endpoint
from tests.receiver import Answer, Receiver

DISCLOSURE = {
    "authority": "Police judiciaire",
    "reference": "PV-7",
    "received_at": "2026-03-02T08:00:00Z",
    "legally_binding": True,
    "data_requested": "Order history of one customer",
}


def staff_receiver(api: TestClient, staff: dict, receiver: Receiver) -> None:
    endpoint(api, staff, receiver, "/scr", event_types=["notice.escalated", "breach.escalated"])


def escalations(receiver: Receiver) -> list[dict]:
    return [r.payload["data"] for r in receiver.at("/scr")]


def test_a_disclosure_request_is_pending_until_the_email_reaches_the_dpo(
    mailing_app: FastAPI, staff: dict, mailbox: Mailbox, receiver: Receiver, clock: MovableClock
) -> None:
    api = mailing_app.state.client
    alpha = make_tenant(api, staff, "Alpha")
    staff_receiver(api, staff, receiver)
    url = f"/v1/clients/{alpha.id}/disclosure-requests"
    created = api.post(url, json=DISCLOSURE, headers=staff)
    assert created.status_code == 201, created.text
    request = created.json()
    assert (request["status"], request["notified_at"]) == ("pending", None)

    # No contact yet: the e-mail fails, the request stays pending, staff are escalated.
    settle(mailing_app)
    assert mailbox.messages == []
    pending = api.get(f"{url}/{request['id']}", headers=staff).json()
    assert (pending["status"], pending["notified_at"]) == ("pending", None)
    (escalated,) = escalations(receiver)
    assert escalated["client_id"] == alpha.id
    assert escalated["notice_kind"] == "disclosure_request"
    assert escalated["disclosure_request_id"] == request["id"]

    # The client names its DPO; the next retry (urgent schedule: 5 s) reaches it.
    contact(api, alpha, "dpo", "dpo@alpha.example")
    clock.advance(timedelta(seconds=7))
    settle(mailing_app)
    (message,) = mailbox.messages
    assert message["to"] == ["dpo@alpha.example"]
    assert "PV-7" in message["content"]
    told = api.get(f"{url}/{request['id']}", headers=staff).json()
    assert told["status"] == "notified"
    assert datetime.fromisoformat(told["notified_at"]) == clock.now()
    assert len(escalations(receiver)) == 1  # escalated once


def test_a_change_notice_that_reaches_no_one_never_authorises(
    mailing_app: FastAPI, staff: dict, mailbox: Mailbox, receiver: Receiver, clock: MovableClock
) -> None:
    api = mailing_app.state.client
    alpha = make_tenant(api, staff, "Alpha")  # no endpoint, no contact
    beta = make_tenant(api, staff, "Beta")  # a privacy contact point only (seed §2.3)
    contact(api, beta, "privacy", "privacy@beta.example")
    staff_receiver(api, staff, receiver)
    announced = announce(api, staff, [alpha.id, beta.id], "2026-05-01")
    settle(mailing_app)
    (message,) = mailbox.messages
    assert message["to"] == ["privacy@beta.example"]
    assert {e["client_id"] for e in escalations(receiver)} == {alpha.id, beta.id}

    change = api.get(f"/v1/subprocessor-changes/{announced['change_id']}", headers=staff).json()
    states = {r["client_id"]: (r["state"], r["objection_deadline"]) for r in change["recipients"]}
    assert states[alpha.id] == ("notice_pending", None)
    assert states[beta.id][0] == "notified"  # the mail server accepted the e-mail

    def authorisation(tenant: Tenant) -> str:
        listed = api.get(f"/v1/clients/{tenant.id}/subprocessors", headers=tenant.headers)
        return next(
            s["authorisation"] for s in listed.json() if s["id"] == announced["subprocessor_id"]
        )

    clock.advance(timedelta(days=90))
    settle(mailing_app)
    assert authorisation(alpha) == "notice_pending"  # never reached: never authorised
    assert authorisation(beta) == "authorised"  # its window closed without objection


def test_a_notice_escalates_when_no_endpoint_answers_within_the_setting(
    mailing_app: FastAPI, staff: dict, mailbox: Mailbox, receiver: Receiver, clock: MovableClock
) -> None:
    """Change notices: DPA_NOTICE_ESCALATION_HOURS (24 by default), not the breach minutes."""
    api = mailing_app.state.client
    alpha = make_tenant(api, staff, "Alpha")
    contact(api, alpha, "dpo", "dpo@alpha.example")
    receiver.script("/alpha", default=Answer(503))
    endpoint(api, alpha.headers, receiver, "/alpha")
    staff_receiver(api, staff, receiver)
    announce(api, staff, [alpha.id], "2026-05-01")
    settle(mailing_app)
    clock.advance(timedelta(hours=23, minutes=59))
    settle(mailing_app)
    assert escalations(receiver) == [] and mailbox.messages == []
    clock.advance(timedelta(minutes=1))
    settle(mailing_app)
    (escalated,) = escalations(receiver)
    assert escalated["notice_kind"] == "subprocessor_change"
    assert "within the escalation delay" in escalated["reason"]
    assert [m["to"] for m in mailbox.messages] == [["dpo@alpha.example"]]


def test_an_objection_counts_to_23_59_59_of_the_last_day_in_the_clients_zone(
    live_app: FastAPI, live: TestClient, staff: dict, receiver: Receiver, clock: MovableClock
) -> None:
    """Delivered Friday 6 March 2026 10:00 Paris, 30 days: 5 April is a Sunday, 6 April Easter
    Monday, so the last day is Tuesday 7 April (SPEC §6, CPC art. 641/642)."""
    clock.set(datetime.fromisoformat("2026-03-06T10:00:00+01:00"))
    tenants = [make_tenant(live, staff, name) for name in ("Alpha", "Beta")]
    for tenant in tenants:
        endpoint(live, tenant.headers, receiver, f"/{tenant.name}")
    announced = announce(live, staff, [t.id for t in tenants], "2026-04-08")
    settle(live_app)
    change_url = f"/v1/subprocessor-changes/{announced['change_id']}"
    recipients = live.get(change_url, headers=staff).json()["recipients"]
    assert {r["objection_deadline"] for r in recipients} == {"2026-04-07T21:59:59Z"}

    clock.set(datetime.fromisoformat("2026-04-07T16:00:00+02:00"))
    in_time = live.post(
        f"{change_url}/objections", json={"reason": "Not this one"}, headers=tenants[0].headers
    )
    assert in_time.status_code == 200, in_time.text
    clock.set(datetime.fromisoformat("2026-04-08T00:00:01+02:00"))
    late = live.post(
        f"{change_url}/objections", json={"reason": "Late"}, headers=tenants[1].headers
    )
    assert late.status_code == 422
    assert late.json()["rule"] == "objection-deadline-passed"
