"""`dpa` as a user runs it: the CLI and `dpa serve` as subprocesses on a directory, with the
default settings unless a test passes its own `DPA_*` variables."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.pg import free_port

KEY_LINE = "Staff API key (shown once): "


def clean_env() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if not name.startswith("DPA_")}


def dpa(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        cwd=cwd,
        env={**clean_env(), **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


class Server:
    """`dpa serve` as a subprocess, its output collected."""

    def __init__(
        self, cwd: Path, env: dict[str, str] | None = None, port: int | None = None
    ) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
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
            cwd=cwd,
            env={**clean_env(), **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)
            self.lines.put(line)

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, "".join(self.output)
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError("not ready in time:\n" + "".join(self.output))

    def stop(self) -> None:
        """SIGTERM, as an orchestrator stops it: a graceful shutdown, worker included. (uvicorn
        re-raises the signal after shutting down, so the exit status is -SIGTERM.)"""
        self.process.send_signal(signal.SIGTERM)
        assert self.process.wait(timeout=30) in (0, -signal.SIGTERM)
        self.reader.join(timeout=10)  # the pipe closes with the process
        output = "".join(self.output)
        assert "Application shutdown complete" in output, output

    def staff_key(self) -> str:
        return next(
            line[len(KEY_LINE) :].strip() for line in self.output if line.startswith(KEY_LINE)
        )


@contextmanager
def serving(
    cwd: Path, env: dict[str, str] | None = None, port: int | None = None
) -> Iterator[Server]:
    server = Server(cwd, env, port)
    try:
        server.wait_ready()
        yield server
    finally:
        if server.process.poll() is None:
            server.stop()
