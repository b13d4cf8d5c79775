"""The due-work claim (SPEC §11) with 1,000,000 future deliveries pending, against the same
claim on a table holding only the due rows: ≤ 5 ms per claim, on SQLite and PostgreSQL.
Also prints the query plan, which must use the partial due index."""

from __future__ import annotations

import statistics
import time
from datetime import timedelta

from sqlalchemy import insert, text
from sqlmodel import Session

from app.auth.principal import Principal
from app.auth.schemas import Role
from app.clock import SystemClock
from app.db import make_engine
from app.events import outbox
from app.events import service as events_service
from app.events.models import Delivery, Event
from app.events.schemas import EndpointCreate
from app.ids import new_id
from bench.common import database, parser, report

FUTURE_ROWS = 1_000_000
DUE_ROWS = 20
CLAIMS = 200
STAFF = Principal(key_id="bench", role=Role.staff, client_id=None)


def fill(url: str, future_rows: int) -> None:
    """`future_rows` pending deliveries due tomorrow, plus DUE_ROWS due now (one per event and
    endpoint pair: 1,000 events to 1,000 endpoints)."""
    engine = make_engine(url)
    clock = SystemClock()
    now = clock.now()
    side = 1000
    with Session(engine) as session:
        endpoints = [
            events_service.create_endpoint(
                session,
                clock,
                STAFF,
                EndpointCreate(url="http://127.0.0.1:9/x"),
                allow_private=True,
            ).id
            for _ in range(side)
        ]
        event_ids = [new_id("evt") for _ in range(side + 1)]
        session.execute(
            insert(Event),
            [
                {
                    "id": e,
                    "type": "audit.requested",
                    "subject": "bench",
                    "data": {},
                    "urgent": False,
                    "created_at": now,
                }
                for e in event_ids
            ],
        )
        session.commit()
    rows = [
        {
            "id": f"dlv_f{n:012d}",
            "event_id": event_ids[n // side],
            "endpoint_id": endpoints[n % side],
            "status": "pending",
            "urgent": False,
            "attempt_count": 0,
            "retry_index": 0,
            "next_attempt_at": now + timedelta(days=1, seconds=n % 86_400),
            "created_at": now,
        }
        for n in range(future_rows)
    ] + [
        {
            "id": f"dlv_due{n:08d}",
            "event_id": event_ids[-1],
            "endpoint_id": endpoints[n],
            "status": "pending",
            "urgent": False,
            "attempt_count": 0,
            "retry_index": 0,
            "next_attempt_at": now - timedelta(seconds=1),
            "created_at": now,
        }
        for n in range(DUE_ROWS)
    ]
    with engine.begin() as connection:
        for start in range(0, len(rows), 50_000):
            connection.execute(insert(Delivery), rows[start : start + 50_000])
    if url.startswith("postgresql"):
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE deliveries"))
    else:
        with engine.begin() as connection:
            connection.execute(text("ANALYZE"))
    engine.dispose()


def time_claims(url: str) -> list[float]:
    """Each claim as the pump's pass makes it (one transaction): find due candidates, lease
    them, commit; then give them back for the next round."""
    engine = make_engine(url)
    clock = SystemClock()
    timings = []
    for _ in range(CLAIMS):
        started = time.perf_counter()
        with Session(engine) as session:
            found = outbox.candidates(session, clock, 64, set())
            lease = timedelta(seconds=30)
            claimed = outbox.claim(session, clock, "bench", lease, [f[0] for f in found])
            session.commit()
        timings.append((time.perf_counter() - started) * 1000)
        outbox.release(engine, "bench", [c.delivery_id for c in claimed])
    engine.dispose()
    return timings


def plan(url: str) -> str:
    engine = make_engine(url)
    prefix = "EXPLAIN QUERY PLAN" if url.startswith("sqlite") else "EXPLAIN"
    query = (
        f"{prefix} SELECT id, endpoint_id FROM deliveries WHERE status = 'pending' AND "
        "next_attempt_at <= CURRENT_TIMESTAMP ORDER BY next_attempt_at LIMIT 64"
    )
    with engine.connect() as connection:
        rows = connection.execute(text(query)).all()
    engine.dispose()
    return " | ".join(str(row[-1]) for row in rows)


def measure(backend: str, future_rows: int) -> tuple[float, str]:
    with database(backend) as url:
        fill(url, future_rows)
        timings = time_claims(url)
        return statistics.median(timings), plan(url)


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    baseline, _ = measure(args.backend, 1)
    figure, query_plan = measure(args.backend, FUTURE_ROWS)
    report(
        f"due-work claim, 1M pending [{args.backend}]",
        figure,
        baseline,
        "ms",
        "<= 5 ms",
        figure / baseline,
        figure <= 5,
        f"(median of {CLAIMS}; plan: {query_plan[:120]})",
    )


if __name__ == "__main__":
    main()
