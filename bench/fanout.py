"""Breach fan-out (SPEC §11): a breach affecting 1,000 clients with 2 endpoints each, all on
one local receiver process, against a bare httpx script sending the same 2,000 signed requests
at the same concurrency (and a bare aiohttp script, this machine's limit). Also the serving
process's memory, idle and during the fan-out, beside a bare FastAPI process."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime

import aiohttp
import httpx
import psutil
from sqlmodel import Session

from app.auth.principal import Principal
from app.auth.schemas import Role
from app.clients import service as clients_service
from app.clients.schemas import ClientCreate
from app.clock import SystemClock
from app.db import make_engine
from app.events import service as events_service
from app.events.schemas import EndpointCreate
from app.events.signing import body, headers, new_secret
from bench.common import Receiver, Server, database, parser, report
from bench.profile import Profiler, summary
from tests.pg import free_port

CLIENTS, PER_CLIENT, CONCURRENCY = 1000, 2, 64
STAFF = Principal(key_id="bench", role=Role.staff, client_id=None)


def seed(database_url: str, receiver: Receiver) -> list[str]:
    engine = make_engine(database_url)
    clock = SystemClock()
    ids = []
    with Session(engine) as session:
        for number in range(CLIENTS):
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


def signed_requests(receiver: Receiver) -> list[tuple[str, bytes, dict[str, str]]]:
    secret = new_secret()
    requests = []
    for number in range(CLIENTS * PER_CLIENT):
        payload = body("breach.notified", datetime.now(UTC), {"n": number, "client_id": "x" * 30})
        requests.append(
            (
                receiver.url(f"/b/{number}"),
                payload.encode(),
                headers(f"evt_{number}", payload, [secret], datetime.now(UTC)),
            )
        )
    return requests


async def bare_httpx(requests: list) -> float:
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    gate = asyncio.Semaphore(CONCURRENCY)
    async with httpx.AsyncClient(limits=limits, timeout=15) as client:

        async def one(url: str, content: bytes, hdrs: dict[str, str]) -> None:
            async with gate:
                (await client.post(url, content=content, headers=hdrs)).raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(one(*r) for r in requests))
        return time.perf_counter() - started


async def bare_aiohttp(requests: list) -> float:
    gate = asyncio.Semaphore(CONCURRENCY)
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(url: str, content: bytes, hdrs: dict[str, str]) -> None:
            async with gate, session.post(url, data=content, headers=hdrs) as response:
                await response.read()

        started = time.perf_counter()
        await asyncio.gather(*(one(*r) for r in requests))
        return time.perf_counter() - started


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


def main() -> None:
    cli = parser(__doc__ or "")
    cli.add_argument(
        "--profile", action="store_true", help="sample the server with py-spy; print a summary"
    )
    args = cli.parse_args()
    receiver = Receiver()
    try:
        requests = signed_requests(receiver)
        httpx_seconds = asyncio.run(bare_httpx(requests))
        aiohttp_seconds = asyncio.run(bare_aiohttp(requests))
        receiver.reset()
        with database(args.backend) as url:
            client_ids = seed(url, receiver)
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
                profiler = Profiler(server.process.pid) if args.profile else None
                started = time.perf_counter()
                response = httpx.post(
                    f"{server.url}/v1/breaches",
                    headers=server.staff,
                    timeout=300,
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
                receiver.wait_for(CLIENTS * PER_CLIENT)
                dpa_seconds = time.perf_counter() - started
                if profiler is not None:
                    print(summary(profiler.stop()), flush=True)
                done.set()
                sampler.join()
            finally:
                server.stop()
        baseline_rss = hello_rss()
    finally:
        receiver.stop()
    report(
        f"fan-out 2,000 deliveries [{args.backend}]",
        dpa_seconds,
        httpx_seconds,
        "s",
        "<= 1.25x httpx",
        dpa_seconds / httpx_seconds,
        dpa_seconds <= 1.25 * httpx_seconds,
        f"(aiohttp {aiohttp_seconds:.3f} s; POST /v1/breaches answered in {accepted:.3f} s)",
    )
    report("memory idle", idle, baseline_rss, "MB", "<= 150 MB", idle / baseline_rss, idle <= 150)
    report(
        "memory during fan-out",
        max(peak),
        baseline_rss,
        "MB",
        "<= 300 MB",
        max(peak) / baseline_rss,
        max(peak) <= 300,
    )


if __name__ == "__main__":
    main()
