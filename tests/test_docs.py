"""Swagger UI as an SCR engineer uses it, on a server without internet access (SPEC §1, §13):
`/docs` renders from the service's own assets, Authorize takes a staff key, Execute runs a
request. Any request that tries to leave the service fails the test."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.browser import browse
from tests.server import dpa, serving

pytestmark = pytest.mark.slow

TIMEOUT_MS = 30_000


def test_swagger_ui_authorizes_and_executes_with_no_request_leaving_the_service(
    tmp_path: Path,
) -> None:
    assert dpa("migrate", cwd=tmp_path).returncode == 0
    with serving(tmp_path) as server:
        key = server.staff_key()
        created = httpx.post(
            f"{server.url}/v1/clients",
            json={"name": "Gamma Fromagerie", "legal_name": "Gamma SAS", "country": "FR"},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert created.status_code == 201, created.text

        with browse(server.port) as browsing:
            page = browsing.page
            page.goto("/docs")
            page.locator(".swagger-ui .info .title").wait_for(timeout=TIMEOUT_MS)
            assert "dpa-service" in page.locator(".swagger-ui .info .title").inner_text()

            page.locator(".auth-wrapper button.authorize").click()
            dialog = page.locator(".modal-ux")
            dialog.locator("input").first.fill(key)
            dialog.locator("button.authorize").click()
            dialog.locator("button.btn-done").click()

            operation = page.locator("#operations-clients-clients-list-clients")
            operation.locator(".opblock-summary").first.click()
            operation.locator("button.try-out__btn").click()
            operation.locator("button.execute").click()
            status = operation.locator(".live-responses-table .response .response-col_status")
            status.first.wait_for(timeout=TIMEOUT_MS)
            assert status.first.inner_text().strip() == "200"
            body = operation.locator(".live-responses-table .response-col_description pre").first
            assert "Gamma Fromagerie" in body.inner_text()  # the key was sent: a staff answer

            # The event contract: one webhook per event type, each with its body's schema.
            webhook = page.get_by_text("breach.notified (urgent)", exact=True).first
            webhook.wait_for(timeout=TIMEOUT_MS)
            webhook.click()
            page.get_by_text("BreachNotifiedEvent").first.wait_for(timeout=TIMEOUT_MS)

            assert browsing.outside == [], f"requests that tried to leave: {browsing.outside}"


def test_no_page_loads_a_cdn(tmp_path: Path) -> None:
    """The HTML of /docs names only the service's own assets; ReDoc (which fetches its logo from
    its vendor's CDN) is not served."""
    assert dpa("migrate", cwd=tmp_path).returncode == 0
    with serving(tmp_path) as server:
        docs = httpx.get(f"{server.url}/docs")
        assert docs.status_code == 200
        assert "https://" not in docs.text and "http://" not in docs.text, docs.text
        assert '"validatorUrl": null' in docs.text
        for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "favicon.png"):
            assert f'"/docs/assets/{asset}"' in docs.text
            assert httpx.get(f"{server.url}/docs/assets/{asset}").status_code == 200
        redoc = httpx.get(f"{server.url}/redoc")
        assert redoc.status_code == 404
        assert redoc.headers["content-type"] == "application/problem+json"
