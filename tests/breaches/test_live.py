"""The breach timer in a real `dpa serve` process on the real clock (SPEC §8.1): the deadline
fires at its second, and a reminder due while the service was down fires once on restart."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.helpers import breach_body
from tests.receiver import Answer, Receiver
from tests.server import dpa, serving

pytestmark = pytest.mark.slow
ENV = {
    "DPA_WEBHOOK_ALLOW_PRIVATE": "true",
    "DPA_WORKER_IDLE_SECONDS": "3600",  # only the exact due time can fire the timers
}


def setup_client(url: str, staff: dict, receiver: Receiver, answer: Answer) -> str:
    client = httpx.post(
        f"{url}/v1/clients",
        json={"name": "Alpha", "legal_name": "Alpha SAS", "country": "FR"},
        headers=staff,
    ).json()
    receiver.script("/client", default=answer)
    for path, owner, types in (
        ("/client", client["id"], ["*"]),
        ("/scr", None, ["breach.deadline_missed"]),
    ):
        created = httpx.post(
            f"{url}/v1/webhook-endpoints",
            json={"url": receiver.url(path), "client_id": owner, "event_types": types},
            headers=staff,
        )
        assert created.status_code == 201, created.text
        receiver.trust(path, created.json()["secret"])
    return client["id"]


def test_deadline_missed_reaches_staff_within_10_seconds_exactly_once(
    tmp_path: Path, receiver: Receiver
) -> None:
    assert dpa("migrate", cwd=tmp_path, env=ENV).returncode == 0
    with serving(tmp_path, ENV) as server:
        staff = {"Authorization": f"Bearer {server.staff_key()}"}
        client_id = setup_client(server.url, staff, receiver, Answer(500))
        aware_at = datetime.now(UTC) - timedelta(hours=71, minutes=59, seconds=50)
        deadline = aware_at + timedelta(hours=72)
        created = httpx.post(
            f"{server.url}/v1/breaches", json=breach_body([client_id], aware_at), headers=staff
        )
        assert created.status_code == 201, created.text
        (missed,) = receiver.wait_for(1, "/scr", timeout=15)
        # At its second: not before the deadline, and promptly after it (an hour-long idle
        # tick rules out polling). The bench measures the lateness precisely.
        assert deadline <= missed.wall <= deadline + timedelta(seconds=3)
        assert missed.payload["type"] == "breach.deadline_missed"
        assert missed.payload["data"]["client_id"] == client_id
        assert missed.verified_with == ["current"]
        events = httpx.get(
            f"{server.url}/v1/events", params={"type": "breach.deadline_missed"}, headers=staff
        ).json()["items"]
        assert sorted(e["client_id"] or "scr" for e in events) == sorted([client_id, "scr"])
    assert len(receiver.at("/scr")) == 1  # the service has stopped: nothing more came


def test_a_reminder_due_while_stopped_fires_once_on_restart(
    tmp_path: Path, receiver: Receiver
) -> None:
    assert dpa("migrate", cwd=tmp_path, env=ENV).returncode == 0
    with serving(tmp_path, ENV) as server:
        staff = {"Authorization": f"Bearer {server.staff_key()}"}
        client_id = setup_client(server.url, staff, receiver, Answer(200))
        reminder_due = datetime.now(UTC) + timedelta(seconds=3)
        body = breach_body([client_id], reminder_due - timedelta(hours=24))
        assert httpx.post(f"{server.url}/v1/breaches", json=body, headers=staff).status_code == 201
        receiver.wait_for(1, "/client", timeout=10)  # breach.notified
    # Down while the +24 h reminder falls due.
    time.sleep(max((reminder_due - datetime.now(UTC)).total_seconds(), 0) + 0.5)
    assert [r.payload["type"] for r in receiver.at("/client")] == ["breach.notified"]
    with serving(tmp_path, ENV):
        receiver.wait_for(2, "/client", timeout=10)
    with serving(tmp_path, ENV):
        pass  # a second restart must not fire it again
    types = [r.payload["type"] for r in receiver.at("/client")]
    assert types == ["breach.notified", "breach.reminder"]
