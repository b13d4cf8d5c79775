"""A real webhook receiver on 127.0.0.1 that verifies every message with `standardwebhooks`,
as a client DPO's system would. Each path can be scripted with the answers to give."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError


@dataclass
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    delay: float = 0.0
    blackhole: bool = False  # accept, read, never answer (until released)
    held: bool = False  # accept, read, answer only once the test opens the gate


@dataclass
class Received:
    path: str
    webhook_id: str
    headers: dict[str, str]
    body: bytes
    at: float
    verified_with: list[str]  # names of the secrets that verify it
    wall: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def payload(self) -> dict[str, Any]:
        return json.loads(self.body)


class Receiver:
    def __init__(self) -> None:
        self.scripts: dict[str, deque[Answer]] = {}
        self.defaults: dict[str, Answer] = {}
        self.secrets: dict[str, dict[str, str]] = {}
        self.received: list[Received] = []
        self.released = threading.Event()
        self.gate = threading.Event()
        self._changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                body = self.rfile.read(length)
                if len(body) < length:  # the sender died mid-request: nothing arrived
                    self.close_connection = True
                    return
                answer = receiver._answer_for(self.path)
                receiver._record(self.path, dict(self.headers.items()), body)
                if answer.blackhole:
                    receiver.released.wait(60)
                    self.close_connection = True
                    return
                if answer.held:
                    receiver.gate.wait(60)
                if answer.delay:
                    time.sleep(answer.delay)
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

        class Server(ThreadingHTTPServer):
            request_queue_size = 1024  # the default backlog of 5 drops bursts of connections

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a sender killed mid-request (the crash drill) is expected here

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        # shutdown() waits for serve_forever's next look at its flag: every 0.5 s by default,
        # which was half a second at the end of each of the hundred-odd tests with a receiver.
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    # --- set-up --------------------------------------------------------------------------

    def start(self) -> Receiver:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.released.set()
        self.gate.set()
        self.server.shutdown()
        self.server.server_close()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def script(self, path: str, *answers: Answer, default: Answer | None = None) -> None:
        self.scripts[path] = deque(answers)
        if default is not None:
            self.defaults[path] = default

    def trust(self, path: str, secret: str, name: str = "current") -> None:
        self.secrets.setdefault(path, {})[name] = secret

    def _answer_for(self, path: str) -> Answer:
        with self._changed:
            queue = self.scripts.get(path)
            if queue:
                return queue.popleft()
            return self.defaults.get(path, Answer())

    def _record(self, path: str, headers: dict[str, str], body: bytes) -> None:
        verified = []
        for name, secret in self.secrets.get(path, {}).items():
            try:
                Webhook(secret).verify(body, headers)
                verified.append(name)
            except WebhookVerificationError:
                pass
        lowered = {k.lower(): v for k, v in headers.items()}
        with self._changed:
            self.received.append(
                Received(
                    path, lowered.get("webhook-id", ""), lowered, body, time.monotonic(), verified
                )
            )
            self._changed.notify_all()

    # --- reading -------------------------------------------------------------------------

    def at(self, path: str) -> list[Received]:
        with self._changed:
            return [r for r in self.received if r.path == path]

    def wait_until(self, predicate: Callable[[list[Received]], bool], timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate(list(self.received)):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"not reached in {timeout} s: {len(self.received)} got")
                self._changed.wait(remaining)

    def wait_for(self, count: int, path: str | None = None, timeout: float = 20) -> list[Received]:
        """Wait until `count` requests arrived (at `path`, or anywhere)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                got = [r for r in self.received if path is None or r.path == path]
                if len(got) >= count:
                    return got
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"{len(got)} of {count} requests arrived at {path}")
                self._changed.wait(remaining)
