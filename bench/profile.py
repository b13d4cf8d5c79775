"""Where a serving process spends its time: py-spy samples it (every thread, idle ones left out)
while a benchmark runs, and the summary says, for the frames of our code and of the libraries
we lean on, the share of samples in which each one is on the stack.

Used by `python -m bench.fanout --profile`; py-spy must be installed (`pip install py-spy`) and
allowed to read the process (root, or ptrace permitted)."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

# A frame in py-spy's raw output: "function (path/to/file.py:line)".
FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>[^:()]+):\d+\)$")
STAGES = {
    # What the time is spent on, judged by the innermost frame of ours or a library's.
    "sqlalchemy ORM (unit of work, loading)": ("sqlalchemy/orm/",),
    "sqlalchemy core (compile, execute)": ("sqlalchemy/sql/", "sqlalchemy/engine/"),
    "database driver": ("sqlite3", "psycopg"),
    "pydantic": ("pydantic",),
    "signing (standardwebhooks, hmac)": ("standardwebhooks", "hmac.py", "hashlib"),
    "http client (aiohttp)": ("aiohttp/", "yarl/", "multidict/"),
    "asyncio event loop": ("asyncio/",),
    "json": ("json/",),
}


class Profiler:
    def __init__(self, pid: int, rate: int = 250) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="dpa-profile-"))
        self.output = self.folder / "stacks.txt"
        beside = Path(sys.executable).parent / "py-spy"  # the project's environment first
        executable = str(beside) if beside.exists() else shutil.which("py-spy")
        if executable is None:
            raise SystemExit("--profile needs py-spy: pip install py-spy")
        self.process = subprocess.Popen(
            [
                executable,
                "record",
                "--pid",
                str(pid),
                "--rate",
                str(rate),
                "--format",
                "raw",
                "--output",
                str(self.output),
                "--threads",
                # Only samples holding the GIL: a thread back from the database waiting for
                # its turn at the interpreter is not work (it showed as time in execute()).
                "--gil",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def stop(self) -> Counter[tuple[str, ...]]:
        self.process.send_signal(signal.SIGINT)
        self.process.wait(30)
        stacks: Counter[tuple[str, ...]] = Counter()
        for line in self.output.read_text().splitlines():
            path, _, count = line.rpartition(" ")
            stacks[tuple(path.split(";"))] += int(count)
        shutil.rmtree(self.folder, ignore_errors=True)
        return stacks


def _ours(frame: str) -> str | None:
    match = FRAME.match(frame)
    if match is None:
        return None
    file = match["file"]
    if "/app/" in file or file.startswith("app/"):
        return f"{file.rsplit('/app/', 1)[-1]}:{match['function']}"
    return None


def summary(stacks: Counter[tuple[str, ...]], top: int = 25) -> str:
    total = sum(stacks.values()) or 1
    inclusive: Counter[str] = Counter()
    stage: Counter[str] = Counter()
    innermost_all: Counter[str] = Counter()
    idle = ("_worker (concurrent/futures/thread.py", "EpollSelector.select", "Condition.wait")
    stacks = Counter({k: v for k, v in stacks.items() if not k[-1].startswith(idle)})
    total = sum(stacks.values()) or 1
    for stack, count in stacks.items():
        for name in {ours for frame in stack if (ours := _ours(frame)) is not None}:
            inclusive[name] += count
        innermost = stack[-1]
        innermost_all[innermost] += count
        for label, needles in STAGES.items():
            if any(needle in innermost for needle in needles):
                stage[label] += count
                break
        else:
            stage["other (ours, stdlib, uvicorn)"] += count
    lines = [f"# {total} samples with a thread busy (waits for work left out)"]
    lines += ["# where the innermost frame is (self time):"]
    lines += [f"{100 * n / total:6.1f} %  {label}" for label, n in stage.most_common()]
    lines += ["# the busiest innermost frames:"]
    lines += [f"{100 * n / total:6.1f} %  {frame}" for frame, n in innermost_all.most_common(10)]
    lines += [f"# our functions, share of samples with them on the stack (top {top}):"]
    lines += [f"{100 * n / total:6.1f} %  {name}" for name, n in inclusive.most_common(top)]
    return "\n".join(lines)
