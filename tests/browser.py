"""Pages opened as a person opens them: Debian's Chromium, headless, driven by Playwright, with
every request that would leave the service refused and recorded.

The service is reached under a made-up host name that Chromium maps to 127.0.0.1, as it would be
on a real server: some pages behave differently on `localhost` (Swagger UI, for one, fetches its
validator badge only for other hosts), and the test must see what a user on a real host sees."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, Route, sync_playwright

SERVICE_HOST = "dpa-service.test"
# Chromium's own background traffic (updates, sync, safe browsing) is off: only the page's
# requests are left to watch.
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
]


def chromium_path() -> str:
    """Debian's Chromium (`make test` installs it); the test skips, saying so, where it is not."""
    path = os.environ.get("DPA_TEST_CHROMIUM") or shutil.which("chromium")
    if path is None:
        pytest.skip(
            "Chromium is not installed and `make test` could not install it "
            "(apt-get install chromium); the browser tests did not run"
        )
    return path


@dataclass
class Browsing:
    """A page on the service, and the requests it tried to send anywhere else."""

    page: Page
    base_url: str
    outside: list[str] = field(default_factory=list)


@contextmanager
def browse(port: int) -> Iterator[Browsing]:
    base_url = f"http://{SERVICE_HOST}:{port}"
    args = [*CHROMIUM_ARGS, f"--host-resolver-rules=MAP {SERVICE_HOST} 127.0.0.1"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=args)
        try:
            context = browser.new_context(base_url=base_url)
            browsing = Browsing(page=context.new_page(), base_url=base_url)

            def only_the_service(route: Route) -> None:
                url = route.request.url
                parts = urlsplit(url)
                if parts.scheme in ("data", "blob") or (
                    parts.hostname == SERVICE_HOST and parts.port == port
                ):
                    route.continue_()
                else:
                    browsing.outside.append(url)
                    route.abort("blockedbyclient")

            context.route("**/*", only_the_service)
            yield browsing
        finally:
            browser.close()
