"""A burst of concurrent requests, far more than the thread pool and the connection pool hold,
is served in full: no request waits for a connection while holding the thread another request
needs to commit (that stalled the whole process until the pool's 30-second timeout)."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI
from sqlmodel import Session, select

from app.auth.models import ApiKey
from app.clients.models import Contact
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
