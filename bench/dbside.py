"""The fan-out's database side alone (a diagnostic, not a service level; not in `make bench`):
the breach `POST`'s rows written in process, then the pump's claims and records with no HTTP
(each claimed delivery recorded as a 200), in batches as the pump makes them, until every
delivery is recorded. What the served fan-out would take if sending and the pipeline cost
nothing: compare it with `bench.fanout`'s figure (README, "what is left").

    python -m bench.dbside [--backend postgres] [--clients N] [--batch N]
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from sqlmodel import Session

import app.domains  # noqa: F401  (the delivery hooks a record runs)
from app.breaches import notifying
from app.breaches.schemas import BreachCreate
from app.clock import SystemClock
from app.db import make_engine
from app.events import outbox, timers
from app.events.pump import TIMER_BATCH
from app.events.sending import AttemptResult
from app.settings import Settings
from bench.common import SECRET, Receiver, database, parser, quiet_heap
from bench.fanout import CLIENTS, CONCURRENCY, PER_CLIENT, STAFF, seed

OWNER = "bench-dbside"
LEASE = timedelta(seconds=60)


def main() -> None:
    cli = parser(__doc__ or "")
    cli.add_argument("--clients", type=int, default=CLIENTS)
    cli.add_argument("--batch", type=int, default=CONCURRENCY, help="deliveries a claim takes")
    args = cli.parse_args()
    expected = args.clients * PER_CLIENT
    receiver = Receiver()  # only for the endpoints' URLs: nothing is sent
    try:
        with database(args.backend) as url:
            client_ids = seed(url, receiver, args.clients)
            engine = make_engine(url)
            clock = SystemClock()
            settings = Settings(_env_file=None, database_url=url, secret_key=SECRET)
            started = time.perf_counter()
            with Session(engine) as session:
                notifying.create_breach(
                    session,
                    clock,
                    settings,
                    STAFF,
                    BreachCreate(
                        aware_at=datetime.now(UTC),
                        nature=["confidentiality"],
                        description="bench",
                        client_ids=client_ids,
                        contact_point="bench",
                    ),
                )
                session.commit()
            written = time.perf_counter() - started
            quiet_heap()
            claiming = recording = 0.0
            cpu = time.process_time()
            started = time.perf_counter()
            done = batches = 0
            while done < expected:
                mark = time.perf_counter()
                with Session(engine) as session:  # as the pump's pass, one transaction
                    timers.claim_due(session, clock, OWNER, LEASE, TIMER_BATCH)
                    found = outbox.candidates(session, clock, args.batch * 4, set())
                    chosen = [d for d, _ in found]
                    claimed = outbox.claim(session, clock, OWNER, LEASE, chosen[: args.batch])
                    session.commit()
                claiming += time.perf_counter() - mark
                if not claimed:
                    raise RuntimeError(f"nothing left to claim after {done} of {expected}")
                mark = time.perf_counter()
                outbox.record(
                    engine,
                    clock,
                    OWNER,
                    [
                        AttemptResult(c, clock.now(), 1, status_code=200, response_excerpt="ok")
                        for c in claimed
                    ],
                )
                recording += time.perf_counter() - mark
                done += len(claimed)
                batches += 1
            seconds = time.perf_counter() - started
            cpu = time.process_time() - cpu
            engine.dispose()
    finally:
        receiver.stop()
    print(
        f"database side [{args.backend}], {expected:,} deliveries in {batches} batches of up to "
        f"{args.batch}: {seconds:.3f} s ({cpu:.3f} s of CPU; claiming {claiming:.3f} s, "
        f"recording {recording:.3f} s); the POST's rows written in process {written:.3f} s",
        flush=True,
    )


if __name__ == "__main__":
    main()
