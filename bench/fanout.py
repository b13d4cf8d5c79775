"""Breach fan-out (SPEC §11): a breach affecting N clients (1,000 by default) with 2 endpoints
each, all on one local receiver process, from `POST /v1/breaches` sent to the last result
recorded, against a bare aiohttp script sending the same 2N signed requests at the same
concurrency (this machine's limit). Also `POST /v1/breaches` alone against a bare executemany
inserting the same rows in one transaction on the same database, and the serving process's
memory, idle and during the fan-out, beside a bare FastAPI process."""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
import httpx
import psutil
import uvloop
from psycopg.types.json import Json
from sqlalchemy import create_engine, text
from sqlmodel import Session

from app.auth.principal import Principal
from app.auth.schemas import Role
from app.clients import service as clients_service
from app.clients.schemas import ClientCreate
from app.clock import SystemClock
from app.db import dump_json, make_engine
from app.events import service as events_service
from app.events.schemas import EndpointCreate
from app.events.signing import body, headers, new_secret
from bench.common import Receiver, Server, cpu_seconds, database, parser, quiet_heap, report
from bench.profile import Profiler, summary
from tests.pg import free_port

CLIENTS, PER_CLIENT, CONCURRENCY = 1000, 2, 64
# Each round is the whole measurement again (fresh database, fresh server, its own baseline
# just before): on this 2-core machine one round's baseline alone moves by 15 %.
ROUNDS = 3
BASELINE_RUNS = 3
STAFF = Principal(key_id="bench", role=Role.staff, client_id=None)
# What POST /v1/breaches writes, parents first (the rows the bare executemany writes again).
WRITTEN = ["breaches", "breach_notices", "events", "deliveries", "notices", "timers"]
TARGETS = {"sqlite": 4.0, "postgres": 5.0}


def seed(database_url: str, receiver: Receiver, clients: int) -> list[str]:
    engine = make_engine(database_url)
    clock = SystemClock()
    ids = []
    with Session(engine) as session:
        for number in range(clients):
            client = clients_service.create_client(
                session,
                clock,
                ClientCreate(name=f"C{number}", legal_name=f"C{number} SA", country="FR"),
            )
            ids.append(client.id)
            for endpoint in range(PER_CLIENT):
                events_service.create_endpoint(
                    session,
                    clock,
                    STAFF,
                    EndpointCreate(
                        client_id=client.id,
                        url=receiver.url(f"/c{number}/{endpoint}"),
                        event_types=["breach.notified"],
                    ),
                    allow_private=True,
                )
        session.commit()
    engine.dispose()
    return ids


def signed_requests(receiver: Receiver, count: int) -> list[tuple[str, bytes, dict[str, str]]]:
    secret = new_secret()
    requests = []
    for number in range(count):
        data = dump_json({"n": number, "client_id": "x" * 30})
        payload = body("breach.notified", datetime.now(UTC), data)
        requests.append(
            (
                receiver.url(f"/b/{number}"),
                payload.encode(),
                headers(f"evt_{number}", payload, [secret], datetime.now(UTC)),
            )
        )
    return requests


async def bare_aiohttp(requests: list[tuple[str, bytes, dict[str, str]]]) -> float:
    gate = asyncio.Semaphore(CONCURRENCY)
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(url: str, content: bytes, hdrs: dict[str, str]) -> None:
            async with gate, session.post(url, data=content, headers=hdrs) as response:
                await response.read()

        started = time.perf_counter()
        await asyncio.gather(*(one(*r) for r in requests))
        return time.perf_counter() - started


# The bare script on each event loop the service could run on; the faster is the limit (the
# service's worker runs on uvloop).
LOOPS: dict[str, Callable[[Any], float]] = {"asyncio": asyncio.run, "uvloop": uvloop.run}


def machine_limit(receiver: Receiver, count: int) -> tuple[float, str]:
    """The baseline: bare aiohttp sending `count` signed requests, warmed up once (the first
    run in a process pays for aiohttp's own set-up, up to 0.1 s; the service paid that at its
    start), then the median of three runs; on asyncio's loop and on uvloop, the faster median
    kept. Returns it and both medians, for the record."""
    quiet_heap()
    medians = {}
    for name, run in LOOPS.items():
        runs = []
        for _ in range(BASELINE_RUNS + 1):
            runs.append(run(bare_aiohttp(signed_requests(receiver, count))))
            receiver.reset()
        medians[name] = statistics.median_low(runs[1:])  # the first run warms up
    shown = ", ".join(f"{name} {seconds:.3f} s" for name, seconds in medians.items())
    return min(medians.values()), shown


def recorded(url: str, expected: int, timeout: float = 600) -> None:
    """Until every delivery's 2xx is recorded (the fan-out's end, not the last arrival)."""
    engine = create_engine(url)
    started = time.perf_counter()
    try:
        with engine.connect() as connection:
            while True:
                done = connection.execute(
                    text("SELECT count(*) FROM deliveries WHERE status = 'delivered'")
                ).scalar_one()
                connection.rollback()
                if done >= expected:
                    return
                if time.perf_counter() - started > timeout:
                    raise RuntimeError(f"only {done} of {expected} recorded")
                time.sleep(0.01)
    finally:
        engine.dispose()


def bare_executemany(url: str) -> tuple[float, int]:
    """Read back every row the POST wrote, delete them, and time inserting them again with the
    driver's executemany, one transaction, the same database. Returns (seconds, rows)."""
    engine = create_engine(url)
    try:
        raw: Any = engine.raw_connection()
        cursor = raw.cursor()
        sqlite = engine.dialect.name == "sqlite"
        mark = "?" if sqlite else "%s"

        def value(item: Any) -> Any:
            # psycopg reads json columns as Python values; they go back as json.
            return item if sqlite or not isinstance(item, dict | list) else Json(item)

        tables: list[tuple[str, list[str], list[tuple[Any, ...]]]] = []
        for table in WRITTEN:
            cursor.execute(f"SELECT * FROM {table}")
            columns = [column[0] for column in cursor.description]
            rows = [tuple(value(item) for item in row) for row in cursor.fetchall()]
            tables.append((table, columns, rows))
        cursor.execute("DELETE FROM delivery_attempts")
        cursor.execute("DELETE FROM notice_links")
        for table in reversed(WRITTEN):
            cursor.execute(f"DELETE FROM {table}")
        raw.commit()
        quiet_heap()
        started = time.perf_counter()
        for table, columns, rows in tables:
            names = ", ".join(columns)
            marks = ", ".join([mark] * len(columns))
            cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)
        raw.commit()
        seconds = time.perf_counter() - started
        raw.close()
        return seconds, sum(len(rows) for _, _, rows in tables)
    finally:
        engine.dispose()


def hello_rss() -> float:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.hello:app",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ]
    )
    try:
        for _ in range(100):
            try:
                httpx.get(f"http://127.0.0.1:{port}/hello")
                break
            except httpx.TransportError:
                time.sleep(0.1)
        return psutil.Process(process.pid).memory_info().rss / 1e6
    finally:
        process.terminate()
        process.wait(10)


@dataclass
class FanOut:
    backend: str
    clients: int
    seconds: float  # POST sent to last result recorded
    accepted: float  # POST answered
    aiohttp: float  # bare aiohttp, the same number of signed requests (the faster loop)
    loops: str  # the bare script's median on each loop
    executemany: float  # the POST's rows, inserted again bare
    rows: int
    idle_mb: float
    peak_mb: float
    # CPU used from the POST to the last result recorded: the server (all its threads), and
    # the receiver on the other core. A server CPU close to the wall time: bound by one core.
    server_cpu: float
    receiver_cpu: float


def fan_out(backend: str, clients: int = CLIENTS, profile: bool = False) -> FanOut:
    receiver = Receiver()
    try:
        aiohttp_seconds, loops = machine_limit(receiver, clients * PER_CLIENT)
        with database(backend) as url:
            client_ids = seed(url, receiver, clients)
            server = Server(
                url, DPA_DELIVERY_CONCURRENCY=str(CONCURRENCY), DPA_ENDPOINT_CONCURRENCY="4"
            )
            try:
                time.sleep(1)
                idle = server.rss_mb()
                peak = [idle]
                done = threading.Event()

                def sample() -> None:
                    while not done.is_set():
                        peak.append(server.rss_mb())
                        time.sleep(0.05)

                sampler = threading.Thread(target=sample, daemon=True)
                sampler.start()
                profiler = Profiler(server.process.pid) if profile else None
                quiet_heap()
                server_cpu, receiver_cpu = server.cpu_seconds(), cpu_seconds(receiver.process.pid)
                started = time.perf_counter()
                response = httpx.post(
                    f"{server.url}/v1/breaches",
                    headers=server.staff,
                    timeout=600,
                    json={
                        "aware_at": datetime.now(UTC).isoformat(),
                        "nature": ["confidentiality"],
                        "description": "bench",
                        "client_ids": client_ids,
                        "contact_point": "bench",
                    },
                )
                response.raise_for_status()
                accepted = time.perf_counter() - started
                receiver.wait_for(clients * PER_CLIENT)
                recorded(url, clients * PER_CLIENT)
                seconds = time.perf_counter() - started
                server_cpu = server.cpu_seconds() - server_cpu
                receiver_cpu = cpu_seconds(receiver.process.pid) - receiver_cpu
                if profiler is not None:
                    print(summary(profiler.stop()), flush=True)
                done.set()
                sampler.join()
            finally:
                server.stop()
            executemany, rows = bare_executemany(url)
    finally:
        receiver.stop()
    return FanOut(
        backend,
        clients,
        seconds,
        accepted,
        aiohttp_seconds,
        loops,
        executemany,
        rows,
        idle,
        max(peak),
        server_cpu,
        receiver_cpu,
    )


def fan_outs(backend: str, clients: int, rounds: int, profile: bool = False) -> list[FanOut]:
    runs = []
    for number in range(1, rounds + 1):
        run = fan_out(backend, clients, profile)
        print(
            f"# round {number} [{backend}, {clients:,} clients]: fan-out {run.seconds:.3f} s "
            f"(aiohttp {run.aiohttp:.3f} s; {run.loops}), POST {run.accepted:.3f} s "
            f"(executemany {run.executemany:.3f} s), peak {run.peak_mb:.0f} MB, CPU: server "
            f"{run.server_cpu:.2f} s, receiver {run.receiver_cpu:.2f} s",
            flush=True,
        )
        runs.append(run)
    return runs


def median_round(runs: list[FanOut], ratio: Callable[[FanOut], float]) -> tuple[FanOut, str]:
    """The round whose ratio is the median (its own figure and baseline are printed, so the
    line stays consistent), and every round's ratio to show the spread."""
    ordered = sorted(runs, key=ratio)
    spread = " / ".join(f"{ratio(run):.2f}" for run in runs)
    return ordered[len(ordered) // 2], f"median of {len(runs)} rounds: {spread}"


def main() -> None:
    cli = parser(__doc__ or "")
    cli.add_argument("--clients", type=int, default=CLIENTS)
    cli.add_argument("--rounds", type=int, default=ROUNDS)
    cli.add_argument(
        "--profile", action="store_true", help="sample the server with py-spy; print a summary"
    )
    args = cli.parse_args()
    runs = fan_outs(args.backend, args.clients, args.rounds, args.profile)
    baseline_rss = hello_rss()
    limit = TARGETS[args.backend]
    deliveries = f"{args.clients * PER_CLIENT:,}"
    run, spread = median_round(runs, lambda r: r.seconds / r.aiohttp)
    report(
        f"fan-out {deliveries} deliveries [{args.backend}]",
        run.seconds,
        run.aiohttp,
        "s",
        f"<= {limit:g}x aiohttp",
        run.seconds / run.aiohttp,
        run.seconds <= limit * run.aiohttp,
        f"(POST sent to last result recorded; {spread})",
    )
    run, spread = median_round(runs, lambda r: r.accepted / r.executemany)
    report(
        f"POST /v1/breaches {run.clients:,} [{args.backend}]",
        run.accepted,
        run.executemany,
        "s",
        "<= 5x executemany",
        run.accepted / run.executemany,
        run.accepted <= 5 * run.executemany,
        f"(bare executemany of the same {run.rows:,} rows, one transaction; {spread})",
    )
    idle, peak = max(r.idle_mb for r in runs), max(r.peak_mb for r in runs)  # the worst round
    report("memory idle", idle, baseline_rss, "MB", "<= 150 MB", idle / baseline_rss, idle <= 150)
    report(
        "memory during fan-out",
        peak,
        baseline_rss,
        "MB",
        "<= 300 MB",
        peak / baseline_rss,
        peak <= 300,
    )


if __name__ == "__main__":
    main()
