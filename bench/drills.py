"""Reliability drills (SPEC §12), each printing lost and duplicated messages:
kill -9 in the middle of a fan-out then a restart; two workers on one PostgreSQL; a receiver
that is down for a while and comes back. `make drills` runs them all."""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
import time

from sqlmodel import Session

from app.clock import SystemClock
from app.db import make_engine
from app.events import service as events_service
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
            events_service.emit(session, clock, event_type, f"sub_{number}", {})
        session.commit()
    engine.dispose()


def wait_all(receiver: Receiver, expected: int, timeout: float) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stats = receiver.stats()
        if stats["unique"] >= expected:
            time.sleep(1)  # anything sent twice would arrive now
            return receiver.stats()
        time.sleep(0.2)
    return receiver.stats()


def line(name: str, expected: int, stats: dict[str, int], note: str = "") -> bool:
    lost = expected - stats["unique"]
    print(
        f"{name:<40} expected {expected:>5}  lost {lost:>3}  duplicates {stats['duplicates']:>3}"
        f"  {'OK' if lost == 0 else 'FAILED'} {note}",
        flush=True,
    )
    return lost == 0


def kill_nine() -> bool:
    receiver = Receiver()
    try:
        with database("sqlite") as url:
            seed(url, receiver.port, endpoints=10, per_endpoint=MESSAGES // 10)
            server = Server(url, DPA_DELIVERY_LEASE_SECONDS="16")
            while receiver.count() < MESSAGES // 3:
                time.sleep(0.01)
            server.process.send_signal(signal.SIGKILL)
            server.process.wait()
            at_kill = receiver.count()
            restarted = Server(url, DPA_DELIVERY_LEASE_SECONDS="16")
            stats = wait_all(receiver, MESSAGES, timeout=90)
            restarted.stop()
    finally:
        receiver.stop()
    # Duplicates are allowed only for requests in flight at the kill (at least once).
    return line(
        "kill -9 mid fan-out, restart",
        MESSAGES,
        stats,
        f"(killed after {at_kill}; duplicates are the requests in flight then)",
    )


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
            stats = wait_all(receiver, MESSAGES, timeout=90)
            for worker in workers:
                worker.send_signal(signal.SIGTERM)
                worker.wait(30)
    finally:
        receiver.stop()
    return line("two workers on one PostgreSQL", MESSAGES, stats) and stats["duplicates"] == 0


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
            stats = wait_all(receiver, expected, timeout=120)
        finally:
            receiver.stop()
            server.stop()
    return line("receiver down 10 s, then back", expected, stats) and stats["duplicates"] == 0


def main() -> None:
    results = [kill_nine(), two_workers(), receiver_down_and_back()]
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
