"""Breaches SCR → clients (seed §2.6, SPEC §8.1): notified at once to every affected client,
each with its own 72-hour timer; the clock is moved, never waited for."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.auth.principal import Principal
from app.auth.schemas import Role
from app.breaches import service
from app.breaches.models import Breach, BreachNotice
from app.clock import MovableClock
from app.errors import Conflict
from tests.conftest import Mailbox, Tenant, make_tenant, settle
from tests.helpers import ART33, breach_body, create, register, types_at
from tests.receiver import Answer, Receiver


def test_each_affected_client_is_notified_with_only_its_own_part(
    live_app: FastAPI, live: TestClient, staff: dict, receiver: Receiver, clock: MovableClock
) -> None:
    alpha, beta = make_tenant(live, staff, "Alpha Boulangerie"), make_tenant(live, staff, "Beta")
    register(live, alpha.headers, receiver, "/alpha")
    register(live, beta.headers, receiver, "/beta")
    for path in ("/alpha", "/beta"):  # both notices arrive, neither is answered yet
        receiver.script(path, Answer(held=True))
    aware_at = clock.now() - timedelta(hours=2)
    breach = create(live, staff, breach_body([alpha.id, beta.id], aware_at))
    assert breach["notices"][0]["seconds_to_notify_deadline"] == 70 * 3600
    receiver.wait_for(2)  # sent, not yet answered: a timer stops only on the 2xx
    assert "dpa_breach_timers_open 2.0" in live.get("/metrics", headers=staff).text
    receiver.gate.set()
    settle(live_app)
    assert (
        "dpa_breach_timers_open 0.0" in live.get("/metrics", headers=staff).text
    )  # delivered: timers stop

    for tenant, other, path in ((alpha, beta, "/alpha"), (beta, alpha, "/beta")):
        (received,) = receiver.at(path)
        assert received.verified_with == ["current"]
        message = received.payload
        assert message["type"] == "breach.notified"
        data = message["data"]
        assert data["client_id"] == tenant.id
        assert data["aware_at"] == aware_at.isoformat()
        assert data["notify_deadline"] == (aware_at + timedelta(hours=72)).isoformat()
        for field, value in ART33.items():
            assert data[field] == value
        assert data["contact_point"].startswith("SCR security desk")
        seen = received.body.decode()
        readable = [
            live.get(f"/v1/breaches/{breach['id']}", headers=tenant.headers).text,
            live.get("/v1/breaches", headers=tenant.headers).text,
            live.get(f"/v1/breaches/{breach['id']}/timeline", headers=tenant.headers).text,
            live.get("/v1/events", headers=tenant.headers).text,
        ]
        for text in [seen, *readable]:
            assert other.id not in text
            assert other.name not in text
        mine = live.get(f"/v1/breaches/{breach['id']}", headers=tenant.headers).json()
        assert [n["client_id"] for n in mine["notices"]] == [tenant.id]
        assert mine["notices"][0]["notified_at"] == clock.now().isoformat().replace("+00:00", "Z")
        assert mine["notices"][0]["controller_deadline"] is not None


def test_reminders_fire_once_each_until_acknowledged(
    live_app: FastAPI, live: TestClient, staff: dict, receiver: Receiver, clock: MovableClock
) -> None:
    alpha, beta = make_tenant(live, staff, "Alpha"), make_tenant(live, staff, "Beta")
    register(live, alpha.headers, receiver, "/alpha")
    register(live, beta.headers, receiver, "/beta")
    scr = register(live, staff, receiver, "/scr", event_types=["breach.acknowledged"])
    aware_at = clock.now()
    breach = create(live, staff, breach_body([alpha.id, beta.id], aware_at))
    settle(live_app)
    for hours in (24, 48):
        clock.set(aware_at + timedelta(hours=hours))
        settle(live_app)
    assert types_at(receiver, "/alpha") == ["breach.notified", "breach.reminder", "breach.reminder"]
    hours = [r.payload["data"]["reminder_hours_after_aware"] for r in receiver.at("/alpha")[1:]]
    assert hours == [24, 48]

    acknowledged = live.post(f"/v1/breaches/{breach['id']}/acknowledge", headers=alpha.headers)
    assert acknowledged.status_code == 200
    assert acknowledged.json()["notices"][0]["acknowledged_at"] is not None
    assert (
        live.post(f"/v1/breaches/{breach['id']}/acknowledge", headers=alpha.headers).status_code
        == 409
    )
    clock.set(aware_at + timedelta(hours=66))
    settle(live_app)
    assert types_at(receiver, "/alpha").count("breach.reminder") == 2  # none after acknowledging
    assert types_at(receiver, "/beta").count("breach.reminder") == 3  # beta did not
    (ack,) = receiver.at("/scr")
    assert ack.payload["data"]["client_id"] == alpha.id
    assert scr["client_id"] is None

    # Closing stops beta's remaining timers too.
    assert live.post(f"/v1/breaches/{breach['id']}/close", headers=staff).status_code == 200
    clock.set(aware_at + timedelta(hours=80))
    settle(live_app)
    assert types_at(receiver, "/beta")[-1] == "breach.closed"
    assert "breach.deadline_missed" not in types_at(receiver, "/beta")


def test_escalation_when_no_endpoint_answers_within_15_minutes(
    live_app: FastAPI, live: TestClient, staff: dict, receiver: Receiver, clock: MovableClock
) -> None:
    alpha = make_tenant(live, staff, "Alpha")
    receiver.script("/alpha", default=Answer(500))
    register(live, alpha.headers, receiver, "/alpha")
    register(live, staff, receiver, "/scr", event_types=["breach.escalated"])
    create(live, staff, breach_body([alpha.id], clock.now()))
    settle(live_app)
    assert (
        "dpa_breach_timers_open 1.0" in live.get("/metrics", headers=staff).text
    )  # nothing delivered yet
    clock.advance(timedelta(minutes=14, seconds=59))
    settle(live_app)
    assert receiver.at("/scr") == []
    clock.advance(timedelta(seconds=1))
    settle(live_app)
    (escalation,) = receiver.at("/scr")
    assert escalation.payload["type"] == "breach.escalated"
    assert escalation.payload["data"]["client_id"] == alpha.id
    assert "2xx" in escalation.payload["data"]["reason"]


def test_a_client_without_a_breach_endpoint_is_escalated_at_once(
    live_app: FastAPI, live: TestClient, staff: dict, receiver: Receiver, clock: MovableClock
) -> None:
    alpha = make_tenant(live, staff, "Alpha")
    register(live, alpha.headers, receiver, "/alpha-audits", event_types=["audit.requested"])
    register(live, staff, receiver, "/scr", event_types=["breach.escalated"])
    breach = create(live, staff, breach_body([alpha.id], clock.now()))
    settle(live_app)
    (escalation,) = receiver.at("/scr")
    assert "no endpoint" in escalation.payload["data"]["reason"]
    assert breach["notices"][0]["escalated_at"] is not None
    clock.advance(timedelta(minutes=20))
    settle(live_app)
    assert len(receiver.at("/scr")) == 1


def test_deadline_missed_then_closing_needs_a_reason(
    live_app: FastAPI, live: TestClient, staff: dict, receiver: Receiver, clock: MovableClock
) -> None:
    alpha = make_tenant(live, staff, "Alpha")
    receiver.script("/alpha", default=Answer(500))
    register(live, alpha.headers, receiver, "/alpha")
    register(live, staff, receiver, "/scr", event_types=["breach.deadline_missed"])
    aware_at = clock.now()
    breach = create(live, staff, breach_body([alpha.id], aware_at))
    clock.set(aware_at + timedelta(hours=72) - timedelta(seconds=1))
    settle(live_app)
    assert receiver.at("/scr") == []
    clock.set(aware_at + timedelta(hours=72))
    settle(live_app)
    (missed,) = receiver.at("/scr")
    assert missed.payload["type"] == "breach.deadline_missed"
    client_view = live.get(f"/v1/breaches/{breach['id']}", headers=alpha.headers).json()
    assert client_view["notices"][0]["deadline_missed_at"] is not None
    assert client_view["notices"][0]["seconds_to_notify_deadline"] == 0

    refused = live.post(f"/v1/breaches/{breach['id']}/close", headers=staff)
    assert refused.status_code == 422
    assert refused.json()["rule"] == "breach-delay-reason"
    assert refused.json()["clients_without_reason"] == [alpha.id]
    reason = live.post(
        f"/v1/breaches/{breach['id']}/delay-reasons",
        json={"client_id": alpha.id, "reason": "The client's receiver was down for 3 days."},
        headers=staff,
    )
    assert reason.status_code == 200
    closed = live.post(f"/v1/breaches/{breach['id']}/close", headers=staff)
    assert closed.status_code == 200
    assert closed.json()["status"] == "closed"


def test_a_breach_acknowledged_at_one_hour_never_misses_its_deadline(
    live_app: FastAPI, live: TestClient, staff: dict, receiver: Receiver, clock: MovableClock
) -> None:
    """Every webhook fails, but the client acknowledges through the API at +1 h: that proves
    receipt (SPEC §8.4), so nothing is `deadline_missed` at +72 h and closing needs no reason."""
    alpha = make_tenant(live, staff, "Alpha")
    receiver.script("/alpha", default=Answer(500))
    register(live, alpha.headers, receiver, "/alpha")
    register(live, staff, receiver, "/scr", event_types=["breach.deadline_missed"])
    aware_at = clock.now()
    breach = create(live, staff, breach_body([alpha.id], aware_at))
    assert (breach["notices"][0]["state"], breach["notices"][0]["notified_at"]) == ("pending", None)
    clock.set(aware_at + timedelta(hours=1))
    settle(live_app)
    acknowledged = live.post(f"/v1/breaches/{breach['id']}/acknowledge", headers=alpha.headers)
    assert acknowledged.status_code == 200
    (notice,) = acknowledged.json()["notices"]
    assert notice["state"] == "notified"
    assert notice["notified_via"] == "acknowledgement"
    assert notice["notified_at"] == notice["acknowledged_at"]
    clock.set(aware_at + timedelta(hours=73))
    settle(live_app)
    assert receiver.at("/scr") == []
    view = live.get(f"/v1/breaches/{breach['id']}", headers=staff).json()
    assert view["notices"][0]["deadline_missed_at"] is None
    assert live.post(f"/v1/breaches/{breach['id']}/close", headers=staff).status_code == 200


def test_the_contract_counts_72_hours_from_the_event(
    live_app: FastAPI, live: TestClient, staff: dict, receiver: Receiver, clock: MovableClock
) -> None:
    """Seed §2.6: "within 72 hours following the event". The breach occurred four days before
    SCR became aware: notified within the Art. 33 hours, yet late against the contract."""
    alpha = make_tenant(live, staff, "Alpha")
    register(live, alpha.headers, receiver, "/alpha")
    aware_at = clock.now()
    occurred_at = aware_at - timedelta(days=4)
    breach = create(
        live, staff, breach_body([alpha.id], aware_at, occurred_at=occurred_at.isoformat())
    )
    assert breach["event_deadline"] == (occurred_at + timedelta(hours=72)).isoformat().replace(
        "+00:00", "Z"
    )
    assert breach["notices"][0]["late_against_event"] is False  # not delivered yet
    settle(live_app)
    view = live.get(f"/v1/breaches/{breach['id']}", headers=alpha.headers).json()
    (notice,) = view["notices"]
    assert notice["notified_via"] == "webhook"
    assert notice["late_against_event"] is True
    assert notice["deadline_missed_at"] is None  # the Art. 33 timer runs on aware_at
    refused = live.post(f"/v1/breaches/{breach['id']}/close", headers=staff)
    assert refused.status_code == 422
    assert refused.json()["clients_without_reason"] == [alpha.id]
    live.post(
        f"/v1/breaches/{breach['id']}/delay-reasons",
        json={"client_id": alpha.id, "reason": "Found in a log review four days later."},
        headers=staff,
    )
    assert live.post(f"/v1/breaches/{breach['id']}/close", headers=staff).status_code == 200


def test_reminders_fall_back_to_email_too(
    mailing_app: FastAPI, staff: dict, mailbox: Mailbox, clock: MovableClock
) -> None:
    """Breach reminders are notices like the first one (SPEC §8.4): no endpoint, so each goes by
    e-mail to the DPO, privacy and security contacts."""
    api = mailing_app.state.client
    alpha = make_tenant(api, staff, "Alpha")
    api.post(
        f"/v1/clients/{alpha.id}/contacts",
        json={
            "role": "privacy",
            "name": "Privacy desk",
            "email": "privacy@alpha.example",
            "communicated_at": "2026-01-01T00:00:00Z",
        },
        headers=alpha.headers,
    )
    aware_at = clock.now()
    create(api, staff, breach_body([alpha.id], aware_at))
    settle(mailing_app)
    clock.set(aware_at + timedelta(hours=24))
    settle(mailing_app)
    titles = [m["content"] for m in mailbox.messages]
    assert len(titles) == 2
    assert "Reminder: personal data breach" in titles[1]
    assert all(m["to"] == ["privacy@alpha.example"] for m in mailbox.messages)


def test_a_breach_known_for_more_than_72_hours_misses_its_deadline_at_once(
    live_app: FastAPI, live: TestClient, staff: dict, receiver: Receiver, clock: MovableClock
) -> None:
    alpha: Tenant = make_tenant(live, staff, "Alpha")
    receiver.script("/alpha", default=Answer(500))
    register(live, alpha.headers, receiver, "/alpha")
    register(live, staff, receiver, "/scr", event_types=["breach.deadline_missed"])
    create(live, staff, breach_body([alpha.id], clock.now() - timedelta(hours=73)))
    settle(live_app)
    # Both at once (delivery order is not guaranteed, SPEC §9).
    assert sorted(types_at(receiver, "/alpha")) == ["breach.deadline_missed", "breach.notified"]
    assert types_at(receiver, "/scr") == ["breach.deadline_missed"]


def test_updates_and_the_timeline(
    live_app: FastAPI, live: TestClient, staff: dict, receiver: Receiver, clock: MovableClock
) -> None:
    alpha = make_tenant(live, staff, "Alpha")
    receiver.script("/alpha", Answer(503, headers={"Retry-After": "10"}))
    register(live, alpha.headers, receiver, "/alpha")
    breach = create(live, staff, breach_body([alpha.id], clock.now()))
    settle(live_app)
    clock.advance(timedelta(seconds=10))
    settle(live_app)
    clock.advance(timedelta(minutes=5))
    update = live.post(
        f"/v1/breaches/{breach['id']}/updates",
        json={"status": "confirmed", "approx_records": 6000, "note": "Scope confirmed."},
        headers=staff,
    )
    assert update.status_code == 200
    assert update.json()["status"] == "confirmed"
    settle(live_app)
    updated = receiver.at("/alpha")[-1].payload
    assert updated["type"] == "breach.updated"
    assert updated["data"]["changes"] == {"status": "confirmed", "approx_records": 6000}
    assert updated["data"]["approx_records"] == 6000

    entries = live.get(f"/v1/breaches/{breach['id']}/timeline", headers=alpha.headers).json()
    steps = [(e["kind"], e["event_type"], e["status_code"] or e["outcome"]) for e in entries]
    assert steps == [
        ("event", "breach.notified", None),
        ("delivery", "breach.notified", "delivered"),
        ("attempt", "breach.notified", 503),
        ("attempt", "breach.notified", 200),
        ("event", "breach.updated", None),
        ("delivery", "breach.updated", "delivered"),
        ("attempt", "breach.updated", 200),
    ]
    times = [e["at"] for e in entries]
    assert times == sorted(times)
    forbidden = live.post(
        f"/v1/breaches/{breach['id']}/updates", json={"note": "x"}, headers=alpha.headers
    )
    assert forbidden.status_code == 403


def test_no_reminder_after_closure(
    live_app: FastAPI, live: TestClient, staff: dict, receiver: Receiver, clock: MovableClock
) -> None:
    alpha = make_tenant(live, staff, "Alpha")
    register(live, alpha.headers, receiver, "/alpha")
    aware_at = clock.now()
    breach = create(live, staff, breach_body([alpha.id], aware_at))
    settle(live_app)
    assert live.post(f"/v1/breaches/{breach['id']}/close", headers=staff).status_code == 200
    clock.set(aware_at + timedelta(hours=73))
    settle(live_app)
    assert types_at(receiver, "/alpha") == ["breach.notified", "breach.closed"]
    assert live.post(f"/v1/breaches/{breach['id']}/close", headers=staff).status_code == 409


def test_acknowledging_for_a_client(
    api: TestClient, staff: dict, tenant_a: Tenant, tenant_b: Tenant, clock: MovableClock
) -> None:
    """Staff act on a named client's behalf; a client key only for itself."""
    breach = create(api, staff, breach_body([tenant_a.id, tenant_b.id], clock.now()))
    url = f"/v1/breaches/{breach['id']}/acknowledge"
    unnamed = api.post(url, headers=staff)
    assert unnamed.status_code == 422
    assert unnamed.json()["rule"] == "staff-on-behalf-of-client"
    other = api.post(url, json={"client_id": tenant_b.id}, headers=tenant_a.headers)
    assert other.status_code == 404
    for_b = api.post(url, json={"client_id": tenant_b.id}, headers=staff)
    assert for_b.status_code == 200
    acknowledged = {n["client_id"]: n["acknowledged_at"] for n in for_b.json()["notices"]}
    assert acknowledged[tenant_a.id] is None
    assert acknowledged[tenant_b.id] is not None


def test_two_acknowledgements_at_once_tell_staff_once(
    app: FastAPI, api: TestClient, staff: dict, tenant_a: Tenant, clock: MovableClock
) -> None:
    """A second acknowledgement that read the notice before the first committed gets the 409
    when it writes, and staff get one `breach.acknowledged`."""
    breach = create(api, staff, breach_body([tenant_a.id], clock.now()))
    engine = app.state.context.engine
    principal = Principal(key_id=tenant_a.key_id, role=Role.client, client_id=tenant_a.id)
    with Session(engine) as second:
        read = second.get(Breach, breach["id"])
        assert read is not None
        notice = second.exec(select(BreachNotice).where(BreachNotice.breach_id == read.id)).one()
        assert notice.acknowledged_at is None
        with Session(engine) as first:
            found = first.get(Breach, breach["id"])
            assert found is not None
            service.acknowledge(first, clock, principal, found, None)
            first.commit()
        with pytest.raises(Conflict):
            service.acknowledge_part(second, clock, read, notice, by=tenant_a.key_id)
        second.rollback()
    events = api.get("/v1/events", params={"type": "breach.acknowledged"}, headers=staff).json()
    assert len(events["items"]) == 1
