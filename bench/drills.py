"""Reliability drills (SPEC §12), each printing lost messages and duplicate attempts:
kill -9 in the middle of a fan-out then a restart; two workers on one PostgreSQL; a receiver
that is down for a while and comes back. `make drills` runs them all.

A duplicate attempt is a request the service should not have made: one the receiver got that
no attempt in the log accounts for, or any attempt after the delivery's first success. A kill
can interrupt requests in flight; the next claim logs those as `interrupted` and sends them
again (at least once, SPEC §9): the receiver gets them twice, and the drill prints how many as
"re-sent after an interrupted attempt", apart from the duplicates."""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from urllib.parse import urlparse

from sqlalchemy import Engine
from sqlmodel import Session, func, select

from app.clock import SystemClock
from app.db import make_engine
from app.events import contract
from app.events import service as events_service
from app.events.models import Delivery, DeliveryAttempt, WebhookEndpoint
from app.events.schemas import EndpointCreate
from bench.common import Receiver, Server, database, env
from bench.fanout import STAFF
from tests.pg import free_port

MESSAGES = 2000


def seed(
    url: str,
    receiver_port: int,
    endpoints: int,
    per_endpoint: int,
    event_type: str = "audit.requested",
) -> None:
    """Staff endpoints and `per_endpoint` events each sends to all of them."""
    engine = make_engine(url)
    clock = SystemClock()
    with Session(engine) as session:
        for number in range(endpoints):
            events_service.create_endpoint(
                session,
                clock,
                STAFF,
                EndpointCreate(
                    url=f"http://127.0.0.1:{receiver_port}/e{number}",
                    event_types=[event_type],
                ),
                allow_private=True,
            )
        session.commit()
    with Session(engine) as session:
        for number in range(per_endpoint):
            events_service.emit(
                session, clock, event_type, f"sub_{number}", contract.example(event_type)
            )
        session.commit()
    engine.dispose()


def wait_all(url: str, receiver: Receiver, expected: int, timeout: float) -> dict[str, int]:
    """Until the receiver has every message and the service has recorded every delivery
    (a request in flight at a kill reached the receiver but is sent again after its lease)."""
    engine = make_engine(url)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if receiver.stats()["unique"] >= expected and not undelivered(engine):
                time.sleep(1)  # anything sent twice would arrive now
                break
            time.sleep(0.2)
    finally:
        engine.dispose()
    return receiver.stats()


def undelivered(engine: Engine) -> int:
    with Session(engine) as session:
        return session.exec(
            select(func.count()).select_from(Delivery).where(Delivery.status != "delivered")
        ).one()


@dataclass
class Outcome:
    lost: int
    duplicate_attempts: int
    resent_after_interruption: int
    unrecorded: int  # deliveries the service has not recorded as delivered


def account(url: str, receiver: Receiver, expected: int, stats: dict[str, int]) -> Outcome:
    """Compare what the receiver got with the service's attempt log."""
    engine = make_engine(url)
    with Session(engine) as session:
        endpoints = {
            urlparse(endpoint_url).path: endpoint_id
            for endpoint_id, endpoint_url in session.exec(
                select(WebhookEndpoint.id, WebhookEndpoint.url)
            ).all()
        }
        rows = session.exec(
            select(
                DeliveryAttempt.endpoint_id,
                DeliveryAttempt.event_id,
                DeliveryAttempt.number,
                DeliveryAttempt.outcome,
                DeliveryAttempt.status_code,
            )
        ).all()
    unrecorded = undelivered(engine)
    engine.dispose()
    log: dict[tuple[str, str], list[tuple[int, str, int | None]]] = defaultdict(list)
    for endpoint_id, event_id, number, outcome, status_code in rows:
        log[(endpoint_id, event_id)].append((number, outcome, status_code))
    duplicates = 0
    for attempts in log.values():
        successes = [number for number, outcome, _ in attempts if outcome == "success"]
        if successes:
            duplicates += sum(1 for number, _, _ in attempts if number > min(successes))
    resent = 0
    for path, webhook_id, times in receiver.repeated():
        attempts = log.get((endpoints[path], webhook_id), [])
        # Attempts that may have reached the receiver: a refused connection did not.
        reached = sum(1 for _, outcome, code in attempts if outcome != "failure" or code)
        interrupted = sum(1 for _, outcome, _ in attempts if outcome == "interrupted")
        duplicates += max(0, times - reached)
        resent += min(times - 1, interrupted)
    return Outcome(expected - stats["unique"], duplicates, resent, unrecorded)


def line(name: str, expected: int, outcome: Outcome, note: str = "") -> bool:
    passed = outcome.lost == outcome.duplicate_attempts == outcome.unrecorded == 0
    if outcome.unrecorded:
        note = f"{note} ({outcome.unrecorded} deliveries never recorded as delivered)"
    print(
        f"{name:<32} expected {expected:>5}  lost {outcome.lost:>3}  duplicate attempts "
        f"{outcome.duplicate_attempts:>3}  re-sent after an interrupted attempt "
        f"{outcome.resent_after_interruption:>3}  {'OK' if passed else 'FAILED'} {note}",
        flush=True,
    )
    return passed


def kill_nine() -> bool:
    # Each answer takes 50 ms, so the kill finds dozens of requests received but not answered.
    # 100 endpoints, so the worker's 64 slots are full and more claims wait in it for a slot
    # (claims ahead); a lease of 17 s is the shortest that lets claims wait (a second).
    receiver = Receiver(delay=0.05)
    try:
        with database("sqlite") as url:
            seed(url, receiver.port, endpoints=100, per_endpoint=MESSAGES // 100)
            server = Server(url, DPA_DELIVERY_LEASE_SECONDS="17")
            while receiver.count() < MESSAGES // 3:
                time.sleep(0.01)
            server.process.send_signal(signal.SIGKILL)
            server.process.wait()
            at_kill = receiver.count()
            restarted = Server(url, DPA_DELIVERY_LEASE_SECONDS="17")
            stats = wait_all(url, receiver, MESSAGES, timeout=90)
            restarted.stop()
            outcome = account(url, receiver, MESSAGES, stats)
    finally:
        receiver.stop()
    return line("kill -9 mid fan-out, restart", MESSAGES, outcome, f"(killed after {at_kill})")


def two_workers() -> bool:
    receiver = Receiver()
    try:
        with database("postgres") as url:
            folder = tempfile.mkdtemp(prefix="dpa-drill-")
            workers = [
                subprocess.Popen(
                    [sys.executable, "-m", "app.cli", "worker"],
                    cwd=folder,
                    env=env(url),
                    stderr=subprocess.DEVNULL,
                )
                for _ in range(2)
            ]
            time.sleep(3)
            seed(url, receiver.port, endpoints=10, per_endpoint=MESSAGES // 10)
            stats = wait_all(url, receiver, MESSAGES, timeout=90)
            for worker in workers:
                worker.send_signal(signal.SIGTERM)
                worker.wait(30)
            outcome = account(url, receiver, MESSAGES, stats)
    finally:
        receiver.stop()
    # No process dies here: not even an interrupted attempt may be sent again.
    return (
        line("two workers on one PostgreSQL", MESSAGES, outcome)
        and outcome.resent_after_interruption == 0
    )


def receiver_down_and_back() -> bool:
    port = free_port()
    expected = 200
    with database("sqlite") as url:
        # Urgent messages: retried after 5 s, 30 s, 2 min … (the others wait 5 min after 5 s).
        seed(url, port, endpoints=10, per_endpoint=expected // 10, event_type="breach.reported")
        server = Server(url)
        time.sleep(10)  # the receiver is down: every attempt fails, retries are scheduled
        receiver = Receiver(port=port)
        try:
            stats = wait_all(url, receiver, expected, timeout=120)
            server.stop()
            outcome = account(url, receiver, expected, stats)
        finally:
            receiver.stop()
            server.stop()
    return (
        line("receiver down 10 s, then back", expected, outcome)
        and outcome.resent_after_interruption == 0
    )


def main() -> None:
    results = [kill_nine(), two_workers(), receiver_down_and_back()]
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
