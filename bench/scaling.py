"""Fan-out growth (SPEC §11): the breach fan-out at 100, 1,000 and 10,000 clients (2 endpoints
each). Each tenfold step should cost at most 11 times the time (linear, not worse), and the
serving process stay under 300 MB at 10,000 clients. The baseline of each step is the step
before it, scaled by ten."""

from __future__ import annotations

import itertools

from bench.common import parser, report
from bench.fanout import PER_CLIENT, fan_out

STEPS = (100, 1000, 10_000)


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    runs = [fan_out(args.backend, clients) for clients in STEPS]
    for before, after in itertools.pairwise(runs):
        growth = after.seconds / before.seconds
        report(
            f"fan-out {before.clients:,}->{after.clients:,} [{args.backend}]",
            after.seconds,
            10 * before.seconds,
            "s",
            "time <= 11x",
            growth,
            growth <= 11,
            f"({before.seconds:.3f} s -> {after.seconds:.3f} s for "
            f"{after.clients * PER_CLIENT:,} deliveries)",
        )
    largest = runs[-1]
    report(
        f"memory at {largest.clients:,} clients [{args.backend}]",
        largest.peak_mb,
        runs[0].peak_mb,
        "MB",
        "<= 300 MB",
        largest.peak_mb / runs[0].peak_mb,
        largest.peak_mb <= 300,
        f"(baseline: at {runs[0].clients:,} clients)",
    )


if __name__ == "__main__":
    main()
