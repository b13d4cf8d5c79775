"""The pump claims ahead of its sends (app/events/pump.py): claimed deliveries wait in the
pump for a slot. A claim must never be sent so late that its answer could come after the lease
ran out (another worker would send the message again), and claims still waiting when a worker
stops are given back at once, not held until their lease runs out."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.context import AppContext
from app.events.models import Delivery, DeliveryAttempt, WebhookEndpoint
from app.events.pump import Pump
from tests.helpers import emit, register
from tests.receiver import Answer, Receiver


def one_slot_pump(
    app: FastAPI, lease_seconds: int = 30, endpoint_concurrency: int = 4
) -> tuple[Pump, list[float]]:
    """A pump of the app's with one request in flight at a time (and claims ahead of it, unless
    the lease is too short), on a monotonic clock the test moves."""
    context = app.state.context
    settings = context.settings.model_copy(
        update={
            "delivery_concurrency": 1,
            "delivery_lease_seconds": lease_seconds,
            "endpoint_concurrency": endpoint_concurrency,
        }
    )
    pump = Pump(AppContext(settings, context.engine, context.clock), "w-ahead")
    now = [1000.0]
    pump.monotonic = lambda: now[0]
    return pump, now


def held_then_next(app: FastAPI, api: TestClient, staff: dict, receiver: Receiver) -> None:
    """Two deliveries: the older to an endpoint that answers when the test says, then one to
    an endpoint that answers at once."""
    receiver.script("/held", default=Answer(held=True))
    register(api, staff, receiver, "/held", event_types=["audit.reminder"])
    register(api, staff, receiver, "/next", event_types=["audit.requested"])
    emit(app, "audit.reminder", "aud_held", {}, None)
    app.state.context.clock.advance(timedelta(seconds=1))
    emit(app, "audit.requested", "aud_next", {}, None)


def delivery_to(app: FastAPI, url: str) -> Delivery:
    with Session(app.state.context.engine) as session:
        return session.exec(
            select(Delivery)
            .join(WebhookEndpoint, WebhookEndpoint.id == Delivery.endpoint_id)  # type: ignore[arg-type]
            .where(WebhookEndpoint.url == url)
        ).one()


async def send_held_queue_next(pump: Pump, receiver: Receiver) -> None:
    """The pump's first pass claims both: /held is sent (and waits for the gate), /next waits
    in the pump for the one slot."""
    await pump.start()
    await pump.run()
    assert [delivery.url for delivery, _claimed_at in pump.queued] == [receiver.url("/next")]
    await asyncio.to_thread(receiver.wait_for, 1, "/held")


async def until(check: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(check):
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


def assert_given_back(app: FastAPI, url: str) -> None:
    """Never attempted, and due again at once for any worker (not after its lease)."""
    delivery = delivery_to(app, url)
    assert (delivery.status, delivery.attempt_count) == ("pending", 0)
    assert delivery.lease_owner is None and delivery.lease_expires_at is None


def test_a_claim_that_waited_too_long_for_a_slot_is_given_back_not_sent_late(
    app: FastAPI, api: TestClient, staff: dict, receiver: Receiver
) -> None:
    held_then_next(app, api, staff, receiver)
    pump, now = one_slot_pump(app)

    async def drive() -> None:
        try:
            await send_held_queue_next(pump, receiver)
            now[0] += pump.max_wait + 1
            # No pass may claim /next again while we look (a pass holds this lock).
            async with pump._passing:
                receiver.gate.set()  # /held answers, its slot frees: /next waited too long
                await until(lambda: delivery_to(app, receiver.url("/next")).lease_owner is None)
                assert_given_back(app, receiver.url("/next"))
                assert receiver.at("/next") == []
            await pump.settle()  # the next pass claims it afresh and sends it
        finally:
            await pump.close()

    asyncio.run(drive())
    assert len(receiver.at("/next")) == 1
    assert delivery_to(app, receiver.url("/next")).status == "delivered"
    with Session(app.state.context.engine) as session:
        outcomes = session.exec(
            select(DeliveryAttempt.outcome).where(
                DeliveryAttempt.delivery_id == delivery_to(app, receiver.url("/next")).id
            )
        ).all()
    assert outcomes == ["success"]  # given back is not an attempt: nothing was sent


def test_claims_still_waiting_when_the_worker_stops_are_given_back_at_once(
    app: FastAPI, api: TestClient, staff: dict, receiver: Receiver
) -> None:
    held_then_next(app, api, staff, receiver)
    pump, _now = one_slot_pump(app)

    async def drive() -> None:
        await send_held_queue_next(pump, receiver)
        closing = asyncio.create_task(pump.close())  # waits for /held, in flight
        await until(lambda: delivery_to(app, receiver.url("/next")).lease_owner is None)
        assert not closing.done()
        receiver.gate.set()
        await closing

    asyncio.run(drive())
    assert receiver.at("/next") == []
    assert_given_back(app, receiver.url("/next"))
    assert (
        delivery_to(app, receiver.url("/held")).status == "delivered"
    )  # the request in flight finished


def test_a_lease_too_short_for_a_claim_to_wait_claims_only_what_it_sends(
    app: FastAPI, api: TestClient, staff: dict, receiver: Receiver
) -> None:
    # 16 s: the 15 s request timeout leaves half a second to wait for a slot, under the second
    # claims ahead ask for; a claim held that briefly would only be given back again and again.
    held_then_next(app, api, staff, receiver)
    pump, _now = one_slot_pump(app, lease_seconds=16)

    async def drive() -> None:
        await pump.start()
        try:
            await pump.run()
            assert not pump.queued
            await asyncio.to_thread(receiver.wait_for, 1, "/held")
            assert delivery_to(app, receiver.url("/next")).lease_owner is None  # not claimed
        finally:
            receiver.gate.set()
            await pump.close()

    asyncio.run(drive())


def test_claims_waiting_for_a_slot_count_against_their_endpoints_cap(
    app: FastAPI, api: TestClient, staff: dict, receiver: Receiver
) -> None:
    # SPEC §9: a busy endpoint's rows are not even claimed. One slot, an endpoint cap of 2 and
    # three messages for one endpoint: one is sent, one waits, the third stays unclaimed for
    # any worker, though the pump could hold more claims ahead.
    receiver.script("/held", default=Answer(held=True))
    register(api, staff, receiver, "/held", event_types=["audit.reminder"])
    for number in range(3):
        emit(app, "audit.reminder", f"aud_{number}", {}, None)
    pump, _now = one_slot_pump(app, endpoint_concurrency=2)

    async def drive() -> None:
        await pump.start()
        try:
            await pump.run()  # passes until one takes nothing
            await asyncio.to_thread(receiver.wait_for, 1, "/held")
            assert len(pump.queued) == 1
            assert pump._claimable() > 0  # room for more claims ahead: the cap is what stops it
            with Session(app.state.context.engine) as session:
                leased = session.exec(
                    select(Delivery).where(Delivery.lease_owner == "w-ahead")
                ).all()
            assert len(leased) == 2
        finally:
            receiver.gate.set()
            await pump.close()

    asyncio.run(drive())
