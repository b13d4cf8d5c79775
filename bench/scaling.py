"""Fan-out growth (SPEC §11): the breach fan-out at 100, 1,000 and 10,000 clients (2 endpoints
each). Each tenfold step should cost at most 11 times the time (linear, not worse), and the
serving process stay under 300 MB at 10,000 clients. The baseline of each step is the step
before it, scaled by ten. Each line also says how the bare aiohttp script's own time grew over
the same step (the median of its runs beside each round): on a machine where sending ten times
the requests takes more than ten times as long, so does the service's fan-out."""

from __future__ import annotations

import itertools
import statistics

from bench.common import parser, report
from bench.fanout import PER_CLIENT, ROUNDS, fan_outs

STEPS = (100, 1000, 10_000)


def main() -> None:
    cli = parser(__doc__ or "")
    cli.add_argument("--rounds", type=int, default=ROUNDS)
    args = cli.parse_args()
    rounds = {clients: fan_outs(args.backend, clients, args.rounds) for clients in STEPS}
    # Each step at its median time (rounds are whole runs: fresh database, fresh server).
    runs = [sorted(step, key=lambda r: r.seconds)[len(step) // 2] for step in rounds.values()]
    bare = {clients: statistics.median(r.aiohttp for r in step) for clients, step in rounds.items()}
    for before, after in itertools.pairwise(runs):
        growth = after.seconds / before.seconds
        bare_before, bare_after = bare[before.clients], bare[after.clients]
        report(
            f"fan-out {before.clients:,}->{after.clients:,} [{args.backend}]",
            after.seconds,
            10 * before.seconds,
            "s",
            "time <= 11x",
            growth,
            growth <= 11,
            f"({before.seconds:.3f} s -> {after.seconds:.3f} s for "
            f"{after.clients * PER_CLIENT:,} deliveries, medians of {args.rounds} rounds; bare "
            f"aiohttp {bare_before:.3f} s -> {bare_after:.3f} s, {bare_after / bare_before:.2f} x)",
        )
    largest = max(rounds[STEPS[-1]], key=lambda r: r.peak_mb)  # the worst round
    smallest = max(rounds[STEPS[0]], key=lambda r: r.peak_mb)
    report(
        f"memory at {largest.clients:,} clients [{args.backend}]",
        largest.peak_mb,
        smallest.peak_mb,
        "MB",
        "<= 300 MB",
        largest.peak_mb / smallest.peak_mb,
        largest.peak_mb <= 300,
        f"(baseline: at {smallest.clients:,} clients)",
    )


if __name__ == "__main__":
    main()
