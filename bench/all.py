"""`make bench`: every benchmark, each in its own process, one line per service level."""

from __future__ import annotations

import subprocess
import sys
import time

RUNS = [
    ["bench.fanout", "--backend", "sqlite"],
    ["bench.fanout", "--backend", "postgres"],
    ["bench.scaling", "--backend", "sqlite"],
    ["bench.scaling", "--backend", "postgres"],
    ["bench.claim", "--backend", "sqlite"],
    ["bench.claim", "--backend", "postgres"],
    ["bench.timers"],
    ["bench.read", "--backend", "sqlite"],
    ["bench.read", "--backend", "postgres"],
    ["bench.blackhole"],
    ["bench.auditlog", "--backend", "sqlite"],
    ["bench.auditlog", "--backend", "postgres"],
]


def main() -> None:
    started = time.monotonic()
    failed = 0
    for run in RUNS:
        result = subprocess.run([sys.executable, "-m", *run], capture_output=True, text=True)
        # The levels, and each fan-out round's own figures (its baselines on both loops).
        out = result.stdout.splitlines()
        lines = [line for line in out if " ratio " in line or line.startswith("# round")]
        for line in lines:
            print(line, flush=True)
        if result.returncode != 0 or not any(" ratio " in line for line in lines):
            failed += 1
            print(f"{' '.join(run)} failed:\n{result.stderr[-2000:]}", flush=True)
    print(f"# {len(RUNS)} benchmarks in {time.monotonic() - started:.0f} s", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
