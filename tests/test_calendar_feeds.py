"""SPEC §10, the deadline calendar: an iCalendar feed, read without an API key (the token is the
credential), that parses with `icalendar`; moving an audit raises its event's SEQUENCE and keeps
its UID; a revoked token answers 404; another client's feed never shows this client's dates."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import icalendar
from fastapi.testclient import TestClient

from app.clock import MovableClock
from tests.conftest import Tenant


def events(api: TestClient, url: str) -> dict[str, icalendar.Event]:
    answer = api.get(urlsplit(url).path)  # no Authorization header, as a calendar app polls
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/calendar")
    calendar = icalendar.Calendar.from_ical(answer.content)
    return {str(event["UID"]): event for event in calendar.walk("VEVENT")}


def test_the_feed_follows_the_clients_dates(
    api: TestClient, staff: dict, tenant_a: Tenant, tenant_b: Tenant, clock: MovableClock
) -> None:
    feed = api.post(
        f"/v1/clients/{tenant_a.id}/calendar-feeds", json={"name": "DPO"}, headers=tenant_a.headers
    )
    assert feed.status_code == 201, feed.text
    url = feed.json()["url"]
    assert url.startswith("http://127.0.0.1:8000/v1/calendar-feeds/calf_")
    assert api.get(f"/v1/clients/{tenant_a.id}/calendar-feeds", headers=tenant_a.headers).json()[
        0
    ].keys() == {"id", "client_id", "name", "created_at", "revoked_at"}  # never the token again
    other = api.post(
        f"/v1/clients/{tenant_b.id}/calendar-feeds", json={}, headers=tenant_b.headers
    ).json()["url"]

    audit = api.post(
        f"/v1/clients/{tenant_a.id}/audits",
        json={
            "kind": "documentary",
            "scope": "Hosting",
            "auditor": {"organisation": "Audit SA", "independent": True},
            "proposed_start": "2026-04-15",
            "proposed_end": "2026-04-17",
        },
        headers=tenant_a.headers,
    ).json()
    dsr = api.post(
        f"/v1/clients/{tenant_a.id}/data-subject-requests",
        json={
            "kind": "access",
            "subject_ref": "S-1",
            "due_at": (clock.now() + timedelta(days=20)).isoformat(),
        },
        headers=tenant_a.headers,
    ).json()
    breach = api.post(
        "/v1/breaches",
        json={
            "aware_at": clock.now().isoformat(),
            "nature": ["availability"],
            "description": "Outage",
            "client_ids": [tenant_a.id],
            "contact_point": "SCR",
        },
        headers=staff,
    ).json()

    first = events(api, url)
    uid = f"{audit['id']}.audit@dpa-service"
    assert set(first) >= {uid, f"{dsr['id']}.due@dpa-service"}
    assert any(u.endswith(".notify-deadline@dpa-service") for u in first)
    assert first[uid].decoded("dtstart").isoformat() == "2026-04-15"
    assert first[uid]["SEQUENCE"] == 0
    alarm = first[uid].subcomponents[0]
    assert alarm.name == "VALARM" and alarm.decoded("trigger") == -timedelta(hours=24)
    assert str(first[uid]["URL"]).endswith(f"/audits/{audit['id']}")
    assert breach["id"] in str(
        next(e for u, e in first.items() if u.endswith(".notify-deadline@dpa-service"))["SUMMARY"]
    )
    assert events(api, url)[uid]["SEQUENCE"] == 0  # polled again, nothing moved

    base = f"/v1/clients/{tenant_a.id}/audits/{audit['id']}"
    assert api.post(f"{base}/accept", headers=staff).status_code == 200
    moved = api.post(
        f"{base}/schedule", json={"start": "2026-04-20", "end": "2026-04-21"}, headers=staff
    )
    assert moved.status_code == 200, moved.text
    after = events(api, url)
    assert after[uid].decoded("dtstart").isoformat() == "2026-04-20"
    assert after[uid]["SEQUENCE"] == 1  # same UID, the calendar replaces the old dates

    # Tenant B's feed shows nothing of A's.
    assert not set(events(api, other)) & set(after)
    assert audit["id"] not in api.get(urlsplit(other).path).text

    feed_id = feed.json()["id"]
    revoked = api.delete(
        f"/v1/clients/{tenant_a.id}/calendar-feeds/{feed_id}", headers=tenant_a.headers
    )
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    assert api.get(urlsplit(url).path).status_code == 404
    assert api.get("/v1/calendar-feeds/calf_made-up.ics").status_code == 404
