"""The e-mail link flow as a client's DPO lives it (SPEC §8.4): `dpa serve` sends the breach
notice to a real SMTP server, the DPO opens the link from that e-mail in Chromium (headless,
every request leaving the service blocked), presses the button, and the breach is acknowledged
in the API; opening the link again says so."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.browser import SERVICE_HOST, browse
from tests.conftest import Mailbox
from tests.helpers import breach_body
from tests.pg import free_port
from tests.server import dpa, serving

pytestmark = pytest.mark.slow

TIMEOUT_MS = 30_000


def wait_for_mail(mailbox: Mailbox, timeout: float = 30) -> None:
    """The worker sends on its own clock: wait for the message (bounded), do not guess a time."""
    deadline = time.monotonic() + timeout
    while not mailbox.messages:
        assert time.monotonic() < deadline, "no e-mail arrived"
        time.sleep(0.05)


def test_a_dpo_acknowledges_a_breach_from_the_emailed_link(
    tmp_path: Path, mailbox: Mailbox
) -> None:
    port = free_port()
    env = {
        "DPA_SMTP_HOST": mailbox.host,
        "DPA_SMTP_PORT": str(mailbox.port),
        "DPA_PUBLIC_URL": f"http://{SERVICE_HOST}:{port}",
    }
    assert dpa("migrate", cwd=tmp_path).returncode == 0
    with serving(tmp_path, env, port) as server:
        staff = {"Authorization": f"Bearer {server.staff_key()}"}
        api = httpx.Client(base_url=server.url, headers=staff)
        client = api.post(
            "/v1/clients", json={"name": "Alpha", "legal_name": "Alpha SAS", "country": "FR"}
        ).json()
        dpo = api.post(
            f"/v1/clients/{client['id']}/contacts",
            json={
                "role": "dpo",
                "name": "Camille Martin",
                "email": "dpo@alpha.example",
                "communicated_at": "2026-01-01T00:00:00Z",
            },
        )
        assert dpo.status_code == 201, dpo.text
        body = breach_body([client["id"]], datetime.now(UTC))
        breach = api.post("/v1/breaches", json=body).json()
        wait_for_mail(mailbox)
        (link,) = mailbox.links()
        assert link.startswith(f"http://{SERVICE_HOST}:{port}/notices/")

        with browse(port) as browsing:
            page = browsing.page
            page.goto(link)
            page.get_by_role("heading", name="Personal data breach notice").wait_for(
                timeout=TIMEOUT_MS
            )
            assert breach["id"] in page.content()
            page.get_by_role("button", name="Acknowledge receipt").click()
            page.get_by_text("Receipt acknowledged").wait_for(timeout=TIMEOUT_MS)

            notice = api.get(f"/v1/breaches/{breach['id']}").json()["notices"][0]
            assert notice["acknowledged_at"] is not None
            assert notice["state"] == "notified"

            page.goto(link)
            page.get_by_text("already acknowledged").wait_for(timeout=TIMEOUT_MS)
            assert page.get_by_role("button").count() == 0
            assert browsing.outside == [], f"requests that tried to leave: {browsing.outside}"
