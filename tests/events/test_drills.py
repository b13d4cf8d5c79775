"""Reliability drills with real processes (SPEC §12): kill -9 in the middle of a fan-out, and
two workers on one PostgreSQL database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlmodel import Session, func, select

from app import crypto
from app.auth.principal import Principal
from app.auth.schemas import Role
from app.clock import SystemClock
from app.db import make_engine
from app.events import contract
from app.events import service as events
from app.events.models import Delivery, DeliveryAttempt
from app.events.schemas import EndpointCreate
from app.settings import Settings
from tests.conftest import SECRET
from tests.pg import free_port
from tests.receiver import Answer, Receiver

pytestmark = pytest.mark.slow
STAFF = Principal(key_id="drill", role=Role.staff, client_id=None)
# The shortest lease under which the pump still claims ahead of its sends (it lets a claim wait
# (lease - 15 s request timeout) / 2 for a slot, and claims ahead from a second).
LEASE_SECONDS = 17


def env(database_url: str, **extra: str) -> dict[str, str]:
    values = {k: v for k, v in os.environ.items() if not k.startswith("DPA_")}
    values.update(
        DPA_DATABASE_URL=database_url,
        DPA_SECRET_KEY=SECRET,
        DPA_WEBHOOK_ALLOW_PRIVATE="true",
        DPA_DELIVERY_LEASE_SECONDS=str(LEASE_SECONDS),
        DPA_LOG_LEVEL="warning",
        # No safety-net tick: work must be found by NOTIFY, due times and lease expiry alone.
        DPA_WORKER_IDLE_SECONDS="3600",
        **extra,
    )
    return values


def fan_out(database_url: str, receiver: Receiver, paths: list[str], events_count: int) -> None:
    """Endpoints for SCR staff at `paths`, then `events_count` events, each to every one."""
    # Sealed as the processes started below seal (DPA_SECRET_KEY): set here, not left to
    # whichever app an earlier test made, so the drill also runs on its own.
    crypto.configure(Settings(_env_file=None, secret_key=SECRET).sealing_ring)
    engine = make_engine(database_url)
    clock = SystemClock()
    with Session(engine) as session:
        for path in paths:
            endpoint = events.create_endpoint(
                session,
                clock,
                STAFF,
                EndpointCreate(url=receiver.url(path), event_types=["audit.requested"]),
                allow_private=True,
            )
            receiver.trust(path, endpoint.secret)
        session.commit()
    with Session(engine) as session:
        for number in range(events_count):
            data = {**contract.example("audit.requested"), "audit_id": f"aud_{number}"}
            events.emit(session, clock, "audit.requested", f"aud_{number}", data)
        session.commit()
    engine.dispose()


def start(command: str, database_url: str, cwd: Path, **extra: str) -> subprocess.Popen[str]:
    args = [sys.executable, "-m", "app.cli", command]
    if command == "serve":
        args += ["--port", str(free_port())]
    return subprocess.Popen(
        args,
        cwd=cwd,
        env=env(database_url, **extra),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_started(process: subprocess.Popen[str], words: str) -> None:
    assert process.stderr is not None
    deadline = time.monotonic() + 30
    seen = ""
    while words not in seen and time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        seen += line
    assert words in seen, seen


def test_kill_9_in_the_middle_of_a_fan_out_loses_nothing(
    sqlite_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    receiver.script("/slow", default=Answer(delay=0.02))
    fan_out(sqlite_url, receiver, ["/slow"], 500)

    # Two requests in flight (fewer than the endpoint's 4): the worker's slots are full and
    # more claims wait in it for one, so the kill usually also finds claims never sent (in
    # three runs: 1, 0 and 1 of them); they come back after the lease like the others.
    server = start("serve", sqlite_url, tmp_path, DPA_DELIVERY_CONCURRENCY="2")
    try:
        receiver.wait_for(200, timeout=60)
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=10)
    killed_at = time.monotonic()
    before_kill = len(receiver.received)
    assert before_kill < 500, "the drill must kill the process half-way"

    restarted = start("serve", sqlite_url, tmp_path, DPA_DELIVERY_CONCURRENCY="2")
    try:
        # Claims of the killed process come back when their lease runs out.
        deadline = time.monotonic() + LEASE_SECONDS + 40
        while not_delivered(sqlite_url) and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        restarted.send_signal(signal.SIGTERM)
        restarted.wait(timeout=30)
    assert not_delivered(sqlite_url) == 0

    counts = Counter(r.webhook_id for r in receiver.received)
    assert len(counts) == 500
    duplicates = [webhook_id for webhook_id, n in counts.items() if n > 1]
    # Only requests in flight at the kill come twice: received before it, never recorded.
    first_seen = {}
    for received in receiver.received:
        first_seen.setdefault(received.webhook_id, received.at)
    assert all(first_seen[d] <= killed_at for d in duplicates)
    # Each answer takes 20 ms, so the kill finds requests received and not yet answered.
    assert 1 <= len(duplicates) <= 8
    # The attempt log accounts for every request the receiver got: the ones in flight at the
    # kill are logged as interrupted (by the killed worker), then one success each.
    engine = make_engine(sqlite_url)
    with Session(engine) as session:
        attempts = session.exec(select(DeliveryAttempt.event_id, DeliveryAttempt.outcome)).all()
    engine.dispose()
    logged = Counter(event_id for event_id, _outcome in attempts)
    assert all(logged[webhook_id] >= n for webhook_id, n in counts.items())
    assert Counter(outcome for _id, outcome in attempts)["success"] == 500
    interrupted = {event_id for event_id, outcome in attempts if outcome == "interrupted"}
    assert set(duplicates) <= interrupted
    assert all(r.verified_with == ["current"] for r in receiver.received)


def not_delivered(database_url: str) -> int:
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            return session.exec(
                select(func.count()).select_from(Delivery).where(Delivery.status != "delivered")
            ).one()
    finally:
        engine.dispose()


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_two_workers_on_postgresql_never_send_an_attempt_twice(
    database_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    workers = [start("worker", database_url, tmp_path) for _ in range(2)]
    try:
        for worker in workers:
            wait_started(worker, "worker running")
        paths = [f"/scr-{number}" for number in range(10)]
        fan_out(database_url, receiver, paths, 200)  # 2,000 deliveries
        receiver.wait_for(2000, timeout=90)
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            assert worker.wait(timeout=30) == 0

    pairs = Counter((r.path, r.webhook_id) for r in receiver.received)
    assert len(pairs) == 2000
    assert max(pairs.values()) == 1, "a webhook-id arrived twice at one endpoint"
    engine = make_engine(database_url)
    with Session(engine) as session:
        attempts = session.exec(select(DeliveryAttempt.worker)).all()
    engine.dispose()
    assert len(attempts) == 2000
    assert not_delivered(database_url) == 0
    assert len(set(attempts)) == 2, "both workers took part"
