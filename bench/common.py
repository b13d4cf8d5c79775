"""What the benchmarks share: a database (SQLite file or a throwaway PostgreSQL), `dpa serve`
as a subprocess, a fast receiver process, and the one line each result is printed as."""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psutil

from app import crypto, heap, migrate
from app.settings import Settings
from tests.pg import Cluster, free_port

SECRET = "bench-secret-key"
# Rows a benchmark writes itself (endpoints and their signing secrets) are sealed as the
# `dpa serve` it starts (DPA_SECRET_KEY=SECRET) seals them, so that server can open them.
crypto.configure(Settings(_env_file=None, secret_key=SECRET).sealing_ring)


def quiet_heap() -> None:
    """Before a timed run in a bench process: what `dpa serve` does after start-up (app.heap:
    gc.freeze and the collector's thresholds), so a baseline run here has what the service has.
    A bench process imports the whole app (to seed, to read back rows), and a full collection
    over that heap takes ~70 ms. Landing inside a third of the bare aiohttp runs, it made the
    baseline bimodal (0.147 s or 0.22 s for the same 2,000 requests), and the fan-out's own
    end, which this process watches, late by as much."""
    heap.freeze()


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    return p


def report(
    name: str,
    figure: float,
    baseline: float,
    unit: str,
    target: str,
    ratio: float,
    passed: bool,
    extra: str = "",
) -> None:
    """The one line per service level: figure, baseline, ratio, target."""
    verdict = "meets" if passed else "MISSES"
    print(
        f"{name:<34} {figure:>10.3f} {unit:<6} baseline {baseline:>10.3f} {unit:<6} "
        f"ratio {ratio:>6.2f}  target {target:<14} {verdict} {extra}",
        flush=True,
    )


@contextmanager
def database(backend: str) -> Iterator[str]:
    """A fresh database at head."""
    if backend == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="dpa-bench-"))
        url = f"sqlite:///{folder / 'dpa.sqlite3'}"
        migrate.upgrade(url)
        try:
            yield url
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    cluster = Cluster()
    cluster.start()
    try:
        yield cluster.migrated_database("bench")
    finally:
        cluster.stop()


def env(database_url: str, **extra: str) -> dict[str, str]:
    values = {k: v for k, v in os.environ.items() if not k.startswith("DPA_")}
    values.update(
        DPA_DATABASE_URL=database_url,
        DPA_SECRET_KEY=SECRET,
        DPA_WEBHOOK_ALLOW_PRIVATE="true",
        DPA_LOG_LEVEL="warning",
        **extra,
    )
    return values


def cpu_seconds(pid: int | None) -> float:
    """CPU time a process has used so far (user and system, all its threads)."""
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


class Server:
    """`dpa serve` (with its worker unless told otherwise) on a free port."""

    def __init__(self, database_url: str, **extra: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.folder = Path(tempfile.mkdtemp(prefix="dpa-bench-serve-"))
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "app.cli",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            cwd=self.folder,
            env=env(database_url, **extra),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise RuntimeError("dpa serve did not become ready")
        key = [line for line in self._lines(timeout=5) if "Staff API key" in line]
        self.staff = {"Authorization": f"Bearer {key[0].split(': ', 1)[1].strip()}"} if key else {}

    def _lines(self, timeout: float) -> list[str]:
        assert self.process.stdout is not None
        os.set_blocking(self.process.stdout.fileno(), False)
        found: list[str] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not any("Staff API key" in x for x in found):
            line = self.process.stdout.readline()
            if line:
                found.append(line)
            else:
                time.sleep(0.05)
        return found

    def rss_mb(self) -> float:
        return psutil.Process(self.process.pid).memory_info().rss / 1e6

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.process.pid)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        shutil.rmtree(self.folder, ignore_errors=True)


def _receiver_main(
    port: int, ready: multiprocessing.synchronize.Event, blackhole_prefix: str, delay: float
) -> None:
    import asyncio

    from aiohttp import web

    received: dict[str, int] = {"count": 0}
    seen: dict[tuple[str, str], int] = {}

    async def hook(request: web.Request) -> web.Response:
        if blackhole_prefix and request.path.startswith(blackhole_prefix):
            await asyncio.sleep(3600)
        await request.read()
        received["count"] += 1
        key = (request.path, request.headers.get("webhook-id", ""))
        seen[key] = seen.get(key, 0) + 1
        if delay:
            await asyncio.sleep(delay)  # received, not yet answered: a request in flight
        return web.Response(text="ok")

    async def count(_request: web.Request) -> web.Response:
        return web.json_response({**received, "unique": len(seen)})

    async def repeated(_request: web.Request) -> web.Response:
        return web.json_response([[*key, n] for key, n in seen.items() if n > 1])

    async def reset(_request: web.Request) -> web.Response:
        received.update(count=0)
        seen.clear()
        return web.json_response(received)

    quiet_heap()  # forked from the bench process: its heap came along
    app = web.Application()
    app.router.add_get("/_count", count)
    app.router.add_get("/_repeated", repeated)
    app.router.add_post("/_reset", reset)
    app.router.add_post("/{tail:.*}", hook)

    async def main() -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port, backlog=4096).start()
        ready.set()
        await asyncio.Event().wait()

    asyncio.run(main())


class Receiver:
    """An aiohttp receiver in its own process, so it is not what is measured."""

    def __init__(
        self, blackhole_prefix: str = "", port: int | None = None, delay: float = 0.0
    ) -> None:
        self.port = port or free_port()
        ready = multiprocessing.Event()
        self.process = multiprocessing.Process(
            target=_receiver_main, args=(self.port, ready, blackhole_prefix, delay), daemon=True
        )
        self.process.start()
        ready.wait(30)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def count(self) -> int:
        return httpx.get(self.url("/_count")).json()["count"]

    def stats(self) -> dict[str, int]:
        """count, and unique (endpoint, webhook-id) pairs."""
        return httpx.get(self.url("/_count")).json()

    def repeated(self) -> list[tuple[str, str, int]]:
        """(path, webhook-id, times) of every message that arrived more than once."""
        return [tuple(row) for row in httpx.get(self.url("/_repeated")).json()]

    def reset(self) -> None:
        httpx.post(self.url("/_reset"))

    def wait_for(self, count: int, timeout: float = 600) -> float:
        """Seconds until `count` requests have arrived."""
        started = time.perf_counter()
        while self.count() < count:
            if time.perf_counter() - started > timeout:
                raise RuntimeError(f"only {self.count()} of {count} arrived")
            time.sleep(0.02)
        return time.perf_counter() - started

    def stop(self) -> None:
        self.process.terminate()
        self.process.join(5)
