"""A burst of concurrent requests, far more than the thread pool and the connection pool hold,
is served in full: no request waits for a connection while holding the thread another request
needs to commit (that stalled the whole process until the pool's 30-second timeout)."""

from __future__ import annotations

import asyncio
import functools
import threading
from datetime import timedelta

import anyio
import httpx
from fastapi import FastAPI
from sqlalchemy import event
from sqlmodel import Session, select

from app.auth.models import ApiKey
from app.clients.models import Client, Contact
from app.clock import MovableClock
from tests.conftest import Tenant

READERS, WRITERS = 150, 50
# Not a performance bound: the stall this guards against lasts until the pool times out (30 s).
STALLED_AFTER_SECONDS = 25


async def _burst(app: FastAPI, tenant: Tenant) -> list[httpx.Response]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://dpa") as client:
        reads = [
            client.get(f"/v1/clients/{tenant.id}", headers=tenant.headers) for _ in range(READERS)
        ]
        writes = [
            client.post(
                f"/v1/clients/{tenant.id}/contacts",
                json={
                    "role": "security",
                    "name": f"Analyst {n}",
                    "email": f"analyst{n}@example.com",
                    "communicated_at": "2026-01-01T00:00:00Z",
                },
                headers=tenant.headers,
            )
            for n in range(WRITERS)
        ]
        return await asyncio.wait_for(
            asyncio.gather(*reads, *writes), timeout=STALLED_AFTER_SECONDS
        )


def test_a_burst_of_reads_and_writes_is_served_in_full(app: FastAPI, tenant_a: Tenant) -> None:
    responses = asyncio.run(_burst(app, tenant_a))

    statuses = [response.status_code for response in responses]
    assert statuses == [200] * READERS + [201] * WRITERS, {s: statuses.count(s) for s in statuses}
    with Session(app.state.context.engine) as session:
        contacts = session.exec(select(Contact).where(Contact.client_id == tenant_a.id)).all()
        key = session.get(ApiKey, tenant_a.key_id)
    assert len(contacts) == WRITERS
    assert key is not None and key.last_used_at is not None


async def _slow_uploads_then_a_read(
    app: FastAPI, tenant: Tenant, uploads: int
) -> tuple[int, list[int]]:
    """`uploads` requests that send half a body and stall, then one read; after it, the
    uploaders hang up. The read's status, and the uploads' statuses."""
    stalled = asyncio.Event()
    upload_statuses: list[int] = []

    async def upload() -> None:
        sent = False

        async def receive() -> dict:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": b'{"role": "secu', "more_body": True}
            await stalled.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict) -> None:
            if message["type"] == "http.response.start":
                upload_statuses.append(message["status"])

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": f"/v1/clients/{tenant.id}/contacts",
            "raw_path": f"/v1/clients/{tenant.id}/contacts".encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [
                (b"host", b"dpa"),
                (b"content-type", b"application/json"),
                *((k.lower().encode(), v.encode()) for k, v in tenant.headers.items()),
            ],
            "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 80),
        }
        await app(scope, receive, send)

    uploading = [asyncio.create_task(upload()) for _ in range(uploads)]
    await asyncio.sleep(0.1)  # let them all start and stall on their bodies
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://dpa") as client:
        response = await asyncio.wait_for(
            client.get(f"/v1/clients/{tenant.id}", headers=tenant.headers),
            timeout=STALLED_AFTER_SECONDS,
        )
    stalled.set()
    await asyncio.gather(*uploading)
    return response.status_code, upload_statuses


def test_clients_uploading_slowly_do_not_hold_the_database_turns(
    app: FastAPI, tenant_a: Tenant
) -> None:
    """A request takes its turn at the database once its body has arrived: a handful of slow
    (or stalled) uploads must not keep everyone else from the database."""
    uploads = app.state.context.settings.database_pool_size + 2
    read, hung_up = asyncio.run(_slow_uploads_then_a_read(app, tenant_a, uploads))
    assert read == 200
    # The uploaders that hung up get a problem (nobody reads it), not a 500 in the logs.
    assert hung_up == [400] * uploads


def test_a_burst_of_reads_records_the_key_use_once(
    app: FastAPI, tenant_a: Tenant, clock: MovableClock
) -> None:
    """Every read of a burst sees the key's last_used_at a minute old: one of them records the
    use, not each (a write each, queued for the one write lock, stalled the burst)."""
    clock.advance(timedelta(minutes=2))
    updates: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement.lstrip().upper().startswith("UPDATE API_KEYS"):
            updates.append(statement)

    engine = app.state.context.engine
    event.listen(engine, "before_cursor_execute", count)
    try:

        async def burst() -> list[int]:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://dpa") as client:
                path = f"/v1/clients/{tenant_a.id}"
                responses = await asyncio.gather(
                    *(client.get(path, headers=tenant_a.headers) for _ in range(READERS))
                )
            return [response.status_code for response in responses]

        assert asyncio.run(burst()) == [200] * READERS
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(updates) == 1, updates


def test_a_cancelled_request_gives_its_connection_back(app: FastAPI, staff: dict[str, str]) -> None:
    """A request cancelled while its work runs in the thread pool (a task group, a shutdown)
    still rolls back and closes its session: otherwise its pooled connection, and on SQLite
    the write lock of what it flushed, stay taken until the garbage collector comes by."""
    engine = app.state.context.engine
    inside, go_on = threading.Event(), threading.Event()

    def hold(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement.startswith("INSERT INTO clients"):
            inside.set()
            go_on.wait(10)

    async def cancelled_post() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dpa") as client:
            async with anyio.create_task_group() as group:
                group.start_soon(
                    functools.partial(
                        client.post,
                        "/v1/clients",
                        headers=staff,
                        json={"name": "Cancelled", "legal_name": "Cancelled SA", "country": "FR"},
                    )
                )
                await anyio.to_thread.run_sync(inside.wait, 10)
                group.cancel_scope.cancel()
                go_on.set()  # the INSERT finishes in its thread; its request is cancelled
            for _ in range(500):  # until the cleanup has run in the pool (5 s at most)
                if engine.pool.checkedout() == 0:
                    break
                await anyio.sleep(0.01)

    event.listen(engine, "before_cursor_execute", hold)
    try:
        asyncio.run(cancelled_post())
    finally:
        go_on.set()
        event.remove(engine, "before_cursor_execute", hold)
    assert inside.is_set()
    assert engine.pool.checkedout() == 0
    with Session(engine) as session:
        assert session.exec(select(Client).where(Client.name == "Cancelled")).first() is None
