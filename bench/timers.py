"""Timer lateness (SPEC §11): 10,000 timers due over a minute, fired by the real worker (pump,
leases, one transaction per firing); p50, p99 and max of fire time minus due time, beside a
bare asyncio loop waking at the same instants (call_at), run at the same time."""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from datetime import UTC, datetime, timedelta

from sqlmodel import Session

from app.clock import SystemClock
from app.context import AppContext
from app.db import make_engine
from app.events import timers
from app.settings import Settings
from app.worker import Worker
from bench.common import SECRET, database, parser, quiet_heap, report

COUNT, SPREAD, LEAD = 10_000, 60.0, 5.0
KIND = "bench.lateness"
lateness: list[float] = []


@timers.handler(KIND)
def _record(session: Session, clock: object, timer: timers.Timer, settings: Settings) -> None:
    lateness.append((datetime.now(UTC) - timer.due_at).total_seconds() * 1000)


def baseline(dues: list[float]) -> list[float]:
    """A bare event loop: the best a process can do waking at these wall-clock instants."""
    found: list[float] = []

    async def run() -> None:
        loop = asyncio.get_running_loop()
        done = asyncio.Event()
        offset = time.time() - loop.time()

        def fire(due: float) -> None:
            found.append((time.time() - due) * 1000)
            if len(found) == len(dues):
                done.set()

        for due in dues:
            loop.call_at(due - offset, fire, due)
        await done.wait()

    asyncio.run(run())
    return found


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    with database(args.backend) as url:
        settings = Settings(
            _env_file=None, database_url=url, secret_key=SECRET, worker_enabled=True
        )
        context = AppContext(settings, make_engine(url), SystemClock())
        start = datetime.now(UTC) + timedelta(seconds=LEAD)
        dues = [start + timedelta(seconds=SPREAD * n / COUNT) for n in range(COUNT)]
        with Session(context.engine) as session:
            for number, due in enumerate(dues):
                timers.schedule(session, context.clock, kind=KIND, subject=f"t{number}", due_at=due)
            session.commit()
        worker = Worker(context)
        worker.start()
        # As `dpa worker` and `dpa serve` do once started (app.heap): without it, a full
        # collection over this process's heap (the whole app, imported) landed in the middle of
        # the run now and then, ~200 ms late on a slow machine (p99 19-38 ms, or 110-214 ms).
        quiet_heap()
        base: list[float] = []
        thread = threading.Thread(
            target=lambda: base.extend(baseline([d.timestamp() for d in dues]))
        )
        thread.start()
        deadline = time.monotonic() + LEAD + SPREAD + 120
        while len(lateness) < COUNT and time.monotonic() < deadline:
            time.sleep(0.2)
        thread.join()
        worker.stop()
        context.engine.dispose()
    p99, base99 = percentile(lateness, 0.99), percentile(base, 0.99)
    report(
        f"timer lateness p99 [{args.backend}]",
        p99,
        base99,
        "ms",
        "p99 <= 100 ms",
        p99 / max(base99, 0.001),
        p99 <= 100 and len(lateness) == COUNT,
        f"(p50 {statistics.median(lateness):.1f} ms, max {max(lateness):.1f} ms, "
        f"fired {len(lateness)}/{COUNT}; baseline p50 {statistics.median(base):.2f} ms)",
    )


if __name__ == "__main__":
    main()
