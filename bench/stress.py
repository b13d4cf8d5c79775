"""Stress run for the tests that race the worker (issue 12): the timer and wake-up tests, each
repeated many times, with a CPU-bound process per core beside them so that the worker's thread,
the test's thread and the database all get preempted at awkward moments. Prints the number of
runs and of failures; exits 1 if any failed. `make stress` (not part of `make test`).

    python -m bench.stress [--count 200] [--burners N]

A failure here is a bug to find, never a test to retry."""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import subprocess
import sys
import time

TESTS = ["tests/events/test_timers.py", "tests/events/test_wakeup.py"]


def burn() -> None:
    while True:
        sum(i * i for i in range(10_000))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200, help="runs of each test")
    parser.add_argument("--burners", type=int, default=os.cpu_count() or 2, help="CPU loads")
    parser.add_argument("tests", nargs="*", default=TESTS, help="test files or ids")
    options = parser.parse_args()

    burners = [multiprocessing.Process(target=burn, daemon=True) for _ in range(options.burners)]
    for burner in burners:
        burner.start()
    started = time.monotonic()
    try:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                f"--count={options.count}",
                *options.tests,
            ],
            capture_output=True,
            text=True,
        )
    finally:
        for burner in burners:
            burner.terminate()
    elapsed = time.monotonic() - started
    tail = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    passed = sum(int(n) for n in re.findall(r"(\d+) passed", tail))
    failed = sum(int(n) for n in re.findall(r"(\d+) (?:failed|error)", tail))
    if result.returncode not in (0, 1) or passed + failed == 0:
        print(result.stdout[-5000:], result.stderr[-5000:], sep="\n")
        print(f"stress: pytest could not run (exit {result.returncode})")
        sys.exit(1)
    if failed:
        # The failures in full (tracebacks, captured logs): the cause is what we are after.
        output = result.stdout
        start = output.find("= FAILURES =")
        print(output[start - 40 : start + 60_000] if start >= 40 else output[-60_000:])
    print(
        f"stress: {options.count} runs of each of {' '.join(options.tests)} under "
        f"{options.burners} CPU loads: {passed + failed} test runs, {failed} failed "
        f"({elapsed:.0f} s)"
    )
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
