"""Bounded request bodies (SPEC §13, DPA_MAX_BODY_BYTES): a 5 MB body, announced or streamed,
gets a 413 problem before it is read in full or anyone is authenticated, and the serving
process does not grow by the size of it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from tests.server import dpa, serving

pytestmark = pytest.mark.slow

FIVE_MB = 5 * 1024 * 1024


def chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        yield b"x" * min(size, total - sent)
        sent += size


def test_a_large_body_is_refused_with_413_before_it_is_read(tmp_path: Path) -> None:
    assert dpa("migrate", cwd=tmp_path).returncode == 0
    with serving(tmp_path) as server:
        process = psutil.Process(server.process.pid)
        url = f"{server.url}/v1/clients"
        httpx.get(f"{server.url}/healthz")
        before = process.memory_info().rss

        announced = httpx.post(url, content=b"x" * FIVE_MB, timeout=30)  # no key at all
        assert announced.status_code == 413
        assert announced.headers["content-type"] == "application/problem+json"
        assert announced.json()["max_body_bytes"] == 1024 * 1024

        streamed = httpx.post(url, content=chunks(FIVE_MB), timeout=30)  # chunked, unannounced
        assert streamed.status_code == 413
        assert streamed.json()["type"].endswith("body-too-large")

        grown = process.memory_info().rss - before
        assert grown < 8 * 1024 * 1024, f"the process grew by {grown} bytes"
        # A body within the limit still works (and still needs a key).
        assert httpx.post(url, json={"name": "ok"}).status_code == 401
