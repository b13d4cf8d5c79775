"""The audit log's verification (SPEC §10): an intact chain of 10,000 entries verifies in under
a second on SQLite. Baseline, side by side: reading the same rows without hashing them."""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import select
from sqlmodel import Session

from app.auditlog import chain
from app.auditlog.models import AuditLogEntry
from app.clock import SystemClock
from app.db import make_engine
from bench.common import database, parser, report

ENTRIES = 10_000
ROUNDS = 5


def fill(url: str) -> None:
    engine = make_engine(url)
    now = SystemClock().now()
    actor = chain.Actor(role="client", key_id="key_bench", client_id="cli_bench")
    with Session(engine) as session:
        for n in range(ENTRIES):
            chain.append(
                session,
                now=now + timedelta(milliseconds=n),
                actor=actor,
                method="POST",
                route="/v1/clients/{client_id}/contacts",
                status_code=201,
                resource_ids={"client_id": "cli_bench", "result_id": f"con_{n:020d}"},
                summary={"fields": ["communicated_at", "email", "name", "role"]},
                request_id=f"{n:032x}",
                client_id="cli_bench",
            )
            if n % 1000 == 999:
                session.commit()
        session.commit()
    engine.dispose()


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    with database(args.backend) as url:
        fill(url)
        engine = make_engine(url)
        table = AuditLogEntry.__table__  # type: ignore[attr-defined]
        verify_times, read_times = [], []
        for _ in range(ROUNDS):
            with engine.connect() as connection:
                started = time.perf_counter()
                rows = connection.execute(select(table).order_by(table.c.seq)).all()
                read_times.append(time.perf_counter() - started)
                started = time.perf_counter()
                result = chain.verify(connection)
                verify_times.append(time.perf_counter() - started)
            assert len(rows) == ENTRIES and result.intact and result.entries == ENTRIES, result
        engine.dispose()
    figure, baseline = min(verify_times), min(read_times)
    report(
        f"audit-log verify 10k ({args.backend})",
        figure,
        baseline,
        "s",
        "< 1 s",
        figure / baseline,
        figure < 1.0,
        "(baseline: reading the rows)",
    )


if __name__ == "__main__":
    main()
