"""Webhook delivery end to end (SPEC §9): real receivers on 127.0.0.1 verifying with
standardwebhooks, the real pump, the clock moved instead of waiting."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool
from sqlmodel import Session, col, select

from app.clock import MovableClock
from app.events import outbox
from app.events.models import Delivery, Event, WebhookEndpoint
from tests.conftest import Tenant, make_tenant, settle
from tests.helpers import candidates, claim, emit, register
from tests.receiver import Answer, Receiver


def test_each_subscribed_endpoint_gets_each_event_once_signed(
    live_app: FastAPI, live: TestClient, staff: dict, receiver: Receiver
) -> None:
    alpha = make_tenant(live, staff, "Alpha")
    beta = make_tenant(live, staff, "Beta")
    register(live, alpha.headers, receiver, "/a-all")
    register(live, alpha.headers, receiver, "/a-breach", event_types=["breach.notified"])
    register(live, alpha.headers, receiver, "/a-audit", event_types=["audit.requested"])
    register(live, beta.headers, receiver, "/b-all")
    register(live, staff, receiver, "/scr")

    breach = emit(live_app, "breach.notified", "brc_1", {"client_id": alpha.id}, alpha.id)
    audit = emit(live_app, "audit.requested", "aud_1", {"client_id": alpha.id}, alpha.id)
    settle(live_app)

    def ids(path: str) -> list[str]:
        return sorted(r.webhook_id for r in receiver.at(path))

    assert ids("/a-all") == sorted([breach, audit])
    assert ids("/a-breach") == [breach]
    assert ids("/a-audit") == [audit]
    assert ids("/b-all") == []
    assert ids("/scr") == []
    for received in receiver.received:
        assert received.verified_with == ["current"]
        assert received.payload["type"] in {"breach.notified", "audit.requested"}
        assert received.payload["data"]["client_id"] == alpha.id
        assert received.payload["timestamp"].endswith("Z")
        assert received.headers["content-type"] == "application/json"

    # The client sees its events and each one's attempts; the other client sees none.
    listed = live.get("/v1/events", headers=alpha.headers).json()["items"]
    assert {e["id"] for e in listed} == {breach, audit}
    assert live.get("/v1/events", headers=beta.headers).json()["items"] == []
    attempts = live.get(f"/v1/events/{breach}/attempts", headers=alpha.headers).json()["items"]
    assert len(attempts) == 2
    assert {a["outcome"] for a in attempts} == {"success"}


def test_a_failing_receiver_is_retried_on_the_schedule_with_a_stable_id(
    live_app: FastAPI, live: TestClient, staff: dict, receiver: Receiver, clock: MovableClock
) -> None:
    receiver.script("/flaky", Answer(500, body=b"boom"), Answer(500), Answer(200))
    register(live, staff, receiver, "/flaky")
    event_id = emit(live_app, "breach.reported", "brc_2", {}, None)  # urgent: 5 s, 30 s, …
    start = clock.now()
    settle(live_app)
    assert len(receiver.at("/flaky")) == 1

    def delivery() -> Delivery:
        with Session(live_app.state.context.engine) as session:
            return session.exec(select(Delivery).where(Delivery.event_id == event_id)).one()

    first_retry = delivery().next_attempt_at
    assert start + timedelta(seconds=4) <= first_retry <= start + timedelta(seconds=6)
    clock.set(first_retry - timedelta(milliseconds=1))
    settle(live_app)
    assert len(receiver.at("/flaky")) == 1  # not due yet: nothing sent
    clock.set(first_retry)
    settle(live_app)
    assert len(receiver.at("/flaky")) == 2
    second_retry = delivery().next_attempt_at
    assert (
        first_retry + timedelta(seconds=24) <= second_retry <= first_retry + timedelta(seconds=36)
    )
    clock.set(second_retry)
    settle(live_app)
    received = receiver.at("/flaky")
    assert len(received) == 3
    assert {r.webhook_id for r in received} == {event_id}
    assert delivery().status == "delivered"

    attempts = live.get(f"/v1/events/{event_id}/attempts", headers=staff).json()["items"]
    attempts.sort(key=lambda a: a["number"])
    assert [(a["number"], a["outcome"], a["status_code"]) for a in attempts] == [
        (1, "failure", 500),
        (2, "failure", 500),
        (3, "success", 200),
    ]
    assert attempts[0]["response_excerpt"] == "boom"
    assert attempts[0]["error"] == "the receiver answered 500"
    assert all(a["duration_ms"] >= 0 for a in attempts)
    assert attempts[0]["next_attempt_at"] is not None


def test_retry_after_is_honoured(
    live_app: FastAPI, live: TestClient, staff: dict, receiver: Receiver, clock: MovableClock
) -> None:
    receiver.script(
        "/busy",
        Answer(429, headers={"Retry-After": "120"}),
        Answer(503, headers={"Retry-After": "Mon, 02 Mar 2026 09:10:00 GMT"}),
    )
    register(live, staff, receiver, "/busy")
    event_id = emit(live_app, "audit.requested", "aud_2", {}, None)
    settle(live_app)
    with Session(live_app.state.context.engine) as session:
        delivery = session.exec(select(Delivery).where(Delivery.event_id == event_id)).one()
    assert delivery.next_attempt_at == clock.now() + timedelta(seconds=120)
    clock.set(delivery.next_attempt_at)
    settle(live_app)
    with Session(live_app.state.context.engine) as session:
        delivery = session.exec(select(Delivery).where(Delivery.event_id == event_id)).one()
    assert delivery.next_attempt_at.isoformat() == "2026-03-02T09:10:00+00:00"


def test_410_disables_the_endpoint_and_tells_staff(
    live_app: FastAPI, live: TestClient, staff: dict, receiver: Receiver
) -> None:
    alpha = make_tenant(live, staff, "Alpha")
    scr = register(live, staff, receiver, "/scr", event_types=["endpoint.disabled"])
    gone = register(live, alpha.headers, receiver, "/gone")
    receiver.script("/gone", default=Answer(410))
    emit(live_app, "audit.accepted", "aud_3", {}, alpha.id)
    emit(live_app, "audit.scheduled", "aud_3", {}, alpha.id)
    settle(live_app)
    endpoint = live.get(f"/v1/webhook-endpoints/{gone['id']}", headers=alpha.headers).json()
    assert endpoint["enabled"] is False
    assert "410" in endpoint["disabled_reason"]
    notices = receiver.at("/scr")
    assert [n.payload["type"] for n in notices] == ["endpoint.disabled"]
    assert notices[0].payload["data"]["endpoint_id"] == gone["id"]
    assert notices[0].payload["data"]["client_id"] == alpha.id
    assert scr["client_id"] is None
    # No more attempts on a disabled endpoint; its other delivery failed visibly.
    assert len(receiver.at("/gone")) <= 2
    deliveries = {
        d["status"]
        for e in live.get("/v1/events", headers=alpha.headers).json()["items"]
        if e["type"].startswith("audit.")
        for d in live.get(f"/v1/events/{e['id']}/deliveries", headers=alpha.headers).json()["items"]
    }
    assert deliveries == {"failed"}


def test_redirects_fail_and_excerpts_are_capped(
    live_app: FastAPI, live: TestClient, staff: dict, receiver: Receiver
) -> None:
    receiver.script("/moved", Answer(302, headers={"Location": "https://elsewhere.example/"}))
    receiver.script("/chatty", Answer(200, body=b"x" * 10_000))
    moved = register(live, staff, receiver, "/moved")
    chatty = register(live, staff, receiver, "/chatty")
    live.post(f"/v1/webhook-endpoints/{moved['id']}/test", headers=staff)
    live.post(f"/v1/webhook-endpoints/{chatty['id']}/test", headers=staff)
    settle(live_app)
    moved_attempt = live.get(f"/v1/webhook-endpoints/{moved['id']}/attempts", headers=staff)
    (attempt,) = moved_attempt.json()["items"]
    assert attempt["outcome"] == "failure"
    assert "redirect" in attempt["error"]
    chatty_attempt = live.get(f"/v1/webhook-endpoints/{chatty['id']}/attempts", headers=staff)
    (attempt,) = chatty_attempt.json()["items"]
    assert attempt["outcome"] == "success"
    assert len(attempt["response_excerpt"]) == 4096
    assert [r.payload["type"] for r in receiver.at("/chatty")] == ["webhook.test"]


def test_rotation_signs_with_both_secrets_for_24_hours(
    live_app: FastAPI, live: TestClient, staff: dict, receiver: Receiver, clock: MovableClock
) -> None:
    endpoint = register(live, staff, receiver, "/rot")
    rotated = live.post(f"/v1/webhook-endpoints/{endpoint['id']}/rotate-secret", headers=staff)
    assert rotated.status_code == 200
    new_secret = rotated.json()["secret"]
    assert new_secret != endpoint["secret"]
    receiver.secrets["/rot"] = {}
    receiver.trust("/rot", endpoint["secret"], "old")
    receiver.trust("/rot", new_secret, "new")
    live.post(f"/v1/webhook-endpoints/{endpoint['id']}/test", headers=staff)
    settle(live_app)
    assert sorted(receiver.at("/rot")[0].verified_with) == ["new", "old"]

    clock.advance(timedelta(hours=24, seconds=1))
    live.post(f"/v1/webhook-endpoints/{endpoint['id']}/test", headers=staff)
    settle(live_app)
    assert receiver.at("/rot")[1].verified_with == ["new"]


def test_redeliver_and_recover_resend(
    live_app: FastAPI, live: TestClient, staff: dict, receiver: Receiver, clock: MovableClock
) -> None:
    alpha: Tenant = make_tenant(live, staff, "Alpha")
    endpoint = register(live, alpha.headers, receiver, "/a")
    event_id = emit(live_app, "audit.completed", "aud_4", {}, alpha.id)
    settle(live_app)
    again = live.post(f"/v1/events/{event_id}/redeliver", headers=alpha.headers)
    assert again.status_code == 202
    settle(live_app)
    assert [r.webhook_id for r in receiver.at("/a")] == [event_id, event_id]

    # Failing for good (the non-urgent schedule runs out), then recovered.
    receiver.script("/a", default=Answer(500))
    failed_id = emit(live_app, "audit.cancelled", "aud_5", {}, alpha.id)
    for _ in range(12):
        settle(live_app)
        clock.advance(timedelta(hours=25))
    deliveries = live.get(f"/v1/events/{failed_id}/deliveries", headers=alpha.headers).json()
    assert deliveries["items"][0]["status"] == "failed"
    assert deliveries["items"][0]["attempt_count"] == 10  # first try + the 9 retries
    receiver.script("/a", default=Answer(200))
    since = "2026-03-01T00:00:00Z"
    recovered = live.post(
        f"/v1/webhook-endpoints/{endpoint['id']}/recover",
        params={"since": since},
        headers=alpha.headers,
    )
    assert recovered.json() == {"requeued": 1}
    settle(live_app)
    assert receiver.at("/a")[-1].webhook_id == failed_id
    status = live.get(f"/v1/events/{failed_id}/deliveries", headers=alpha.headers).json()
    assert status["items"][0]["status"] == "delivered"


def test_a_claim_whose_worker_stopped_is_logged_interrupted_and_sent_again(
    app: FastAPI, api: TestClient, staff: dict, receiver: Receiver
) -> None:
    """A worker killed between sending and recording leaves its lease to run out. The next
    claim logs that attempt as `interrupted` (the receiver may have the message) before the
    message goes again, so the attempt log accounts for every request the receiver got."""
    context = app.state.context
    endpoint = register(api, staff, receiver, "/scr")
    event_id = emit(app, "audit.requested", "aud_1", {}, None)
    with Session(context.engine) as session:
        delivery_id = session.exec(select(Delivery.id)).one()

    # Worker A claims with a lease that has already run out, and never records anything.
    gone = claim(context.engine, context.clock, "worker-a", -timedelta(seconds=1), [delivery_id])
    assert [c.delivery_id for c in gone] == [delivery_id]
    again = claim(context.engine, context.clock, "worker-b", timedelta(seconds=30), [delivery_id])
    assert [c.delivery_id for c in again] == [delivery_id]
    # Claimed by B: not claimable again, and not logged twice.
    assert (
        claim(context.engine, context.clock, "worker-c", timedelta(seconds=30), [delivery_id]) == []
    )
    outbox.record(
        context.engine,
        context.clock,
        "worker-b",
        [
            outbox.AttemptResult(
                claimed=again[0],
                attempted_at=context.clock.now(),
                duration_ms=3,
                status_code=200,
            )
        ],
    )

    attempts = api.get(f"/v1/events/{event_id}/attempts", headers=staff).json()["items"]
    by_number = sorted(attempts, key=lambda a: a["number"])
    assert [(a["number"], a["outcome"], a["worker"]) for a in by_number] == [
        (1, "interrupted", "worker-a"),
        (2, "success", "worker-b"),
    ]
    assert "worker-a stopped before it recorded an answer" in by_number[0]["error"]
    assert by_number[0]["endpoint_id"] == endpoint["id"]
    with Session(context.engine) as session:
        delivery = session.get(Delivery, delivery_id)
        assert delivery is not None
        assert (delivery.status, delivery.attempt_count) == ("delivered", 2)


def test_a_candidate_attempted_meanwhile_is_not_claimed_again_before_its_retry(
    app: FastAPI, api: TestClient, staff: dict, receiver: Receiver
) -> None:
    """Two pump runs can find the same due delivery. If one claims it, fails and schedules
    the retry before the other claims, the other must not send it again at once."""
    context = app.state.context
    register(api, staff, receiver, "/scr")
    emit(app, "audit.requested", "aud_1", {}, None)
    (candidate,) = candidates(context.engine, context.clock, 10)

    (first,) = claim(context.engine, context.clock, "run-1", timedelta(seconds=30), [candidate[0]])
    outbox.record(
        context.engine,
        context.clock,
        "run-1",
        [
            outbox.AttemptResult(
                claimed=first, attempted_at=context.clock.now(), duration_ms=1, status_code=500
            )
        ],
    )
    late = claim(context.engine, context.clock, "run-2", timedelta(seconds=30), [candidate[0]])
    assert late == []
    with Session(context.engine) as session:
        delivery = session.get(Delivery, candidate[0])
        assert delivery is not None
        assert (delivery.attempt_count, delivery.lease_owner) == (1, None)
        assert delivery.next_attempt_at > context.clock.now()


def test_an_answer_recorded_after_the_claim_was_taken_over_is_not_logged_twice(
    app: FastAPI, api: TestClient, staff: dict, receiver: Receiver
) -> None:
    """Worker A stalls past its lease; B logs A's request as interrupted and sends again. A's
    late answer must not add a second entry for the same request."""
    context = app.state.context
    register(api, staff, receiver, "/scr")
    event_id = emit(app, "audit.requested", "aud_1", {}, None)
    with Session(context.engine) as session:
        delivery_id = session.exec(select(Delivery.id)).one()

    (slow,) = claim(context.engine, context.clock, "worker-a", -timedelta(seconds=1), [delivery_id])
    (again,) = claim(
        context.engine, context.clock, "worker-b", timedelta(seconds=30), [delivery_id]
    )
    for owner, claimed in (("worker-a", slow), ("worker-b", again)):
        outbox.record(
            context.engine,
            context.clock,
            owner,
            [
                outbox.AttemptResult(
                    claimed=claimed,
                    attempted_at=context.clock.now(),
                    duration_ms=2,
                    status_code=200,
                )
            ],
        )

    attempts = api.get(f"/v1/events/{event_id}/attempts", headers=staff).json()["items"]
    assert sorted((a["number"], a["outcome"], a["worker"]) for a in attempts) == [
        (1, "interrupted", "worker-a"),
        (2, "success", "worker-b"),
    ]


def test_a_claim_skips_deliveries_another_worker_holds_without_waiting(
    app: FastAPI, api: TestClient, staff: dict, receiver: Receiver
) -> None:
    """PostgreSQL: a delivery whose row another transaction has locked (another worker claiming
    or recording it) is left to that worker; the claim takes the others at once rather than
    waiting for the lock and leasing a row that may no longer be claimable by then. The claim
    runs with a lock timeout, so waiting fails the test instead of hanging it."""
    context = app.state.context
    if context.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer: no row is locked by another worker")
    register(api, staff, receiver, "/scr")
    emit(app, "audit.requested", "aud_1", {}, None)
    emit(app, "audit.requested", "aud_2", {}, None)
    with Session(context.engine) as session:
        held, free = session.exec(select(Delivery.id).order_by(col(Delivery.id))).all()
    impatient = create_engine(
        context.engine.url, connect_args={"options": "-c lock_timeout=2000"}, poolclass=NullPool
    )
    with context.engine.connect() as other_worker:
        other_worker.execute(
            select(Delivery.id).where(col(Delivery.id) == held).with_for_update()
        ).one()
        claimed = claim(impatient, context.clock, "worker-b", timedelta(seconds=30), [held, free])
        assert [c.delivery_id for c in claimed] == [free]
        other_worker.rollback()
    again = claim(context.engine, context.clock, "worker-c", timedelta(seconds=30), [held, free])
    assert [c.delivery_id for c in again] == [held]
    impatient.dispose()


def test_a_message_carries_its_event_data_as_written_whatever_its_characters(
    app: FastAPI, api: TestClient, staff: dict, receiver: Receiver
) -> None:
    """The event's data goes into the message as the database holds it (JSON text, not parsed
    and written again): the message must still be the event, exactly, for data with quotes,
    braces, backslashes and non-ASCII text (escaped: the body is ASCII), and for data written
    before in another JSON layout (spaces after separators)."""
    context = app.state.context
    register(api, staff, receiver, "/scr")
    tricky = 'Société « Générale » "}\\ ,"data":{} \u2028 \U0001f512'
    written = emit(app, "audit.requested", "aud_1", {"emergency_basis": tricky}, None)
    spaced = emit(app, "audit.requested", "aud_2", {"kind": "documentary"}, None)
    with Session(context.engine) as session:
        (data,) = session.execute(
            text("SELECT CAST(data AS TEXT) FROM events WHERE id = :id"), {"id": spaced}
        )
        as_json = "CAST(:data AS JSON)" if context.engine.dialect.name == "postgresql" else ":data"
        session.execute(
            text(f"UPDATE events SET data = {as_json} WHERE id = :id"),
            {"data": json.dumps(json.loads(data[0]), indent=2, ensure_ascii=False), "id": spaced},
        )
        session.commit()
        expected = {e.id: e for e in session.exec(select(Event))}
    ids = [d for d, _ in candidates(context.engine, context.clock, 10)]
    claimed = claim(context.engine, context.clock, "worker-a", timedelta(seconds=30), ids)
    assert {c.event_id for c in claimed} == {written, spaced}
    for delivery in claimed:
        event = expected[delivery.event_id]
        assert json.loads(delivery.payload) == {
            "type": "audit.requested",
            "timestamp": event.created_at.isoformat().replace("+00:00", "Z"),
            "data": event.data,
        }
        assert delivery.payload.isascii()
    assert expected[written].data["emergency_basis"] == tricky


def test_an_attempt_that_fails_inside_the_service_is_logged_and_frees_its_slot(
    live_app: FastAPI, live: TestClient, staff: dict, receiver: Receiver, clock: MovableClock
) -> None:
    """Something no handler expected while sending (here a signing secret that no longer
    decodes, as a damaged row would give) is a failed attempt in the log, retried on the
    schedule like any other, never a claim left hanging: the endpoint's slot is freed, so its
    next messages still go, and the other endpoints never notice."""
    healthy = register(live, staff, receiver, "/healthy")
    damaged = register(live, staff, receiver, "/damaged")
    with Session(live_app.state.context.engine) as session:
        row = session.get(WebhookEndpoint, damaged["id"])
        assert row is not None
        row.secret = "whsec_"  # nothing after the prefix: standardwebhooks refuses to sign
        session.add(row)
        session.commit()
    for _ in range(6):  # more than an endpoint's requests in flight at once
        live.post(f"/v1/webhook-endpoints/{damaged['id']}/test", headers=staff)
    live.post(f"/v1/webhook-endpoints/{healthy['id']}/test", headers=staff)
    settle(live_app)
    attempts = live.get(f"/v1/webhook-endpoints/{damaged['id']}/attempts", headers=staff)
    logged = attempts.json()["items"]
    assert len(logged) == 6
    assert {a["outcome"] for a in logged} == {"failure"}
    assert all("inside the service" in a["error"] for a in logged), logged[0]["error"]
    assert receiver.at("/damaged") == []
    assert [r.payload["type"] for r in receiver.at("/healthy")] == ["webhook.test"]
    # Repaired, the retries go through on their schedule.
    rotated = live.post(f"/v1/webhook-endpoints/{damaged['id']}/rotate-secret", headers=staff)
    receiver.trust("/damaged", rotated.json()["secret"])
    clock.advance(timedelta(days=1, minutes=1))  # the damaged one no longer signs beside it
    settle(live_app)
    assert [r.payload["type"] for r in receiver.at("/damaged")] == ["webhook.test"] * 6
