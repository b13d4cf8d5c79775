"""The link an e-mailed notice carries (SPEC §8.4): one per contact, single use, expiring, no
API key; GET changes nothing, POST records the answer once as the client's, with the contact's
e-mail. (The same flow in a real browser: tests/notices/test_link_page.py.)"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.clock import MovableClock
from tests.conftest import Mailbox, Tenant, make_tenant, settle
from tests.helpers import breach_body, create
from tests.notices.helpers import announce, contact, endpoint
from tests.receiver import Receiver


def path(link: str) -> str:
    return urlsplit(link).path


def contacts(api: TestClient, tenant: Tenant) -> None:
    contact(api, tenant, "dpo", "dpo@alpha.example")
    contact(api, tenant, "security", "soc@alpha.example")


def test_a_contact_acknowledges_a_breach_once_from_its_own_link(
    mailing_app: FastAPI, staff: dict, mailbox: Mailbox, receiver: Receiver, clock: MovableClock
) -> None:
    api: TestClient = mailing_app.state.client
    alpha = make_tenant(api, staff, "Alpha")
    contacts(api, alpha)
    endpoint(api, staff, receiver, "/scr", event_types=["breach.acknowledged"])
    breach = create(api, staff, breach_body([alpha.id], clock.now()))
    settle(mailing_app)
    # One message per contact, each with its own link to this service's public URL.
    assert sorted(m["to"][0] for m in mailbox.messages) == [
        "dpo@alpha.example",
        "soc@alpha.example",
    ]
    links = mailbox.links()
    assert len(set(links)) == 2
    assert all(link.startswith("http://127.0.0.1:8000/notices/") for link in links)
    dpo_link = links[[m["to"][0] for m in mailbox.messages].index("dpo@alpha.example")]

    page = api.get(path(dpo_link))  # no key: the token is the credential
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-store"
    assert breach["id"] in page.text and "Acknowledge receipt" in page.text
    assert "<script" not in page.text
    unchanged = api.get(f"/v1/breaches/{breach['id']}", headers=staff).json()["notices"][0]
    assert unchanged["acknowledged_at"] is None  # a GET changes nothing

    done = api.post(path(dpo_link), data={"action": "acknowledge"})
    assert done.status_code == 200, done.text
    assert "Receipt acknowledged" in done.text
    notice = api.get(f"/v1/breaches/{breach['id']}", headers=alpha.headers).json()["notices"][0]
    assert notice["acknowledged_at"] is not None
    settle(mailing_app)
    (told,) = receiver.at("/scr")
    assert told.payload["data"]["acknowledged_by_contact"] == "dpo@alpha.example"

    again = api.post(path(dpo_link), data={"action": "acknowledge"})
    assert again.status_code == 409
    assert "already acknowledged" in again.text
    assert "already acknowledged" in api.get(path(dpo_link)).text
    other = next(link for link in links if link != dpo_link)
    assert "already acknowledged" in api.post(path(other), data={"action": "acknowledge"}).text


def test_a_tampered_or_expired_link_shows_a_clear_page(
    mailing_app: FastAPI, staff: dict, mailbox: Mailbox, clock: MovableClock
) -> None:
    api: TestClient = mailing_app.state.client
    alpha = make_tenant(api, staff, "Alpha")
    contact(api, alpha, "dpo", "dpo@alpha.example")
    create(api, staff, breach_body([alpha.id], clock.now()))
    settle(mailing_app)
    (link,) = mailbox.links()
    tampered = path(link)[:-1] + ("A" if not link.endswith("A") else "B")
    for response in (api.get(tampered), api.post(tampered, data={"action": "acknowledge"})):
        assert response.status_code == 404
        assert "This link is not valid" in response.text
        assert "Traceback" not in response.text
    clock.advance(timedelta(days=60))
    for response in (api.get(path(link)), api.post(path(link), data={"action": "acknowledge"})):
        assert response.status_code == 410
        assert "This link has expired" in response.text


def test_a_contact_objects_to_a_change_notice_with_a_reason(
    mailing_app: FastAPI, staff: dict, mailbox: Mailbox, receiver: Receiver, clock: MovableClock
) -> None:
    api: TestClient = mailing_app.state.client
    alpha = make_tenant(api, staff, "Alpha")
    contact(api, alpha, "privacy", "privacy@alpha.example")
    endpoint(api, staff, receiver, "/scr", event_types=["subprocessor.objection"])
    announced = announce(api, staff, [alpha.id], "2026-05-01")
    settle(mailing_app)
    (link,) = mailbox.links()
    page = api.get(path(link))
    assert "Object" in page.text and "Approve" in page.text and "<textarea" in page.text
    # An objection needs a reason: refused, nothing recorded, the link still works.
    refused = api.post(path(link), data={"action": "object", "reason": ""})
    assert refused.status_code == 422
    assert "needs a reason" in refused.text
    done = api.post(path(link), data={"action": "object", "reason": "Not for our customers"})
    assert done.status_code == 200, done.text
    change = api.get(f"/v1/subprocessor-changes/{announced['change_id']}", headers=staff).json()
    (recipient,) = change["recipients"]
    assert (recipient["response"], recipient["reason"]) == ("objected", "Not for our customers")
    settle(mailing_app)
    (objection,) = receiver.at("/scr")
    assert objection.payload["data"]["answered_by_contact"] == "privacy@alpha.example"
    assert api.post(path(link), data={"action": "approve"}).status_code == 409
