"""The garbage collector's settings for a long-running process (`dpa serve`, `dpa worker`), kept
free of the app's imports so that the benchmarks' bare baselines take the same settings."""

from __future__ import annotations

import gc

# The youngest generation collected after 20,000 net allocations of container objects rather
# than 700. A breach's fan-out builds tens of thousands of rows, results and requests that live
# until their transaction or request ends; at 700 the collector ran ~230 young and ~20 middle
# collections over them during one 1,000-client fan-out, ~140 ms of the serving process's
# ~2.1 s of CPU (measured with gc.callbacks, on a machine ~3 x slower than the one README's
# figures come from), against 2 young collections and ~8 ms at 20,000. Garbage in cycles waits
# a little longer: the fan-out's peak memory did not move (142-143 MB).
THRESHOLDS = (20_000, 10, 10)


def freeze() -> None:
    """What the process built to start (modules, the ORM's and pydantic's schemas, the routes)
    lives as long as it does: kept out of the collector's full passes, which otherwise walk it
    all, 80-100 ms each, in the middle of a breach's fan-out (gc.freeze); and the collector's
    thresholds for what the process allocates from then on."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
