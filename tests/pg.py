"""A throwaway PostgreSQL cluster for the test run, started from the machine's binaries.

As root, PostgreSQL refuses to run (initdb says so), so the cluster runs as the `postgres`
system user through `runuser`."""

from __future__ import annotations

import glob
import os
import pwd
import random
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


class PostgresUnavailable(RuntimeError):
    pass


def _binary(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if candidates:
        return candidates[-1]
    raise PostgresUnavailable(f"`{name}` is not on PATH nor under /usr/lib/postgresql/*/bin")


# Ports for servers this run starts (PostgreSQL, `dpa serve`, SMTP): below the kernel's
# ephemeral range (32768 and up on Linux), so no outgoing connection of any process is handed
# one between our check and the server's bind, and a block of its own for each parallel test
# worker (pytest-xdist's PYTEST_XDIST_WORKER, gw0, gw1...), so two workers never pick the same.
PORT_BASE, PORT_BLOCK, PORT_BLOCKS = 20_000, 1_000, 12
_handed_out: set[int] = set()


def free_port() -> int:
    """A port on 127.0.0.1 that nothing is bound to now and this process has not handed out."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    block = (int(worker[2:]) + 1 if worker[2:].isdigit() else 0) % PORT_BLOCKS
    first = PORT_BASE + block * PORT_BLOCK
    start = random.randrange(PORT_BLOCK)  # another run on the machine starts elsewhere
    for step in range(PORT_BLOCK):
        port = first + (start + step) % PORT_BLOCK
        if port in _handed_out:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free port in {first}-{first + PORT_BLOCK - 1}")


class Cluster:
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="dpa-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.port = free_port()
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            try:
                user = pwd.getpwnam("postgres")
            except KeyError as exc:
                raise PostgresUnavailable(
                    "running as root and there is no `postgres` user"
                ) from exc
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self._as_user = [shutil.which("runuser") or "/sbin/runuser", "-u", "postgres", "--"]

    def _run(self, *command: str) -> None:
        result = subprocess.run(
            [*self._as_user, *command], capture_output=True, text=True, timeout=120
        )
        if result.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise PostgresUnavailable(
                f"{' '.join(command[:2])} failed ({result.returncode}):\n"
                f"{result.stdout}\n{result.stderr}\n{log}"
            )

    def start(self) -> None:
        self._run(
            _binary("initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
        )
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run(
            _binary("pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.log),
            "-w",
            "-t",
            "60",
            "start",
        )

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def migrated_database(self, name: str) -> str:
        """A new database on this cluster, migrated to head; its URL."""
        from sqlalchemy import create_engine, text

        from app import migrate

        admin = create_engine(self.url(), isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            admin.dispose()
        url = self.url(name)
        migrate.upgrade(url)
        return url

    def stop(self) -> None:
        try:
            if self.data.exists():
                self._run(_binary("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
