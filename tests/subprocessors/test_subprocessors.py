"""Sub-processors (seed §2.8-2.9, SPEC §6): the transfer guard, change notices with objection
windows, and each client's authorisation state."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.auth.principal import Principal
from app.auth.schemas import Role
from app.clock import MovableClock
from app.errors import Conflict
from app.notices import service as notices_service
from app.subprocessors import changes
from app.subprocessors.models import ChangeNotice, ChangeRecipient
from tests.conftest import Tenant, make_tenant, settle
from tests.helpers import register
from tests.receiver import Receiver

INSTRUCTIONS = {
    "purposes": ["newsletter"],
    "data_categories": [{"name": "e-mail", "retention": "P3Y"}],
    "data_subject_categories": ["subscribers"],
    "security_measures": ["TLS"],
    "evidence": {
        "document_ref": "Annex 2",
        "document_sha256": "c5e3c6d1a2e4b5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e",
        "signed_by": "C. Dupont",
        "received_at": "2026-03-01T10:00:00+01:00",
    },
}


def new_sub(api: TestClient, staff: dict, client_ids: list[str], **fields) -> dict:
    body = {
        "name": "Mailjet",
        "legal_entity": "Mailjet SAS",
        "service": "E-mail campaigns",
        "processing_countries": ["FR"],
        "client_ids": client_ids,
        "agreement_ref": "SPA-2026-014",
        "agreement_signed_on": "2026-02-01",
        **fields,
    }
    response = api.post("/v1/subprocessors", json=body, headers=staff)
    assert response.status_code == 201, response.text
    return response.json()


def change(api: TestClient, staff: dict, sub_ids: list[str], effective: str, **fields):
    return api.post(
        "/v1/subprocessor-changes",
        json={
            "kind": "addition",
            "subprocessor_ids": sub_ids,
            "description": "New mailer",
            "effective_date": effective,
            **fields,
        },
        headers=staff,
    )


def state(api: TestClient, tenant: Tenant, sub_id: str) -> str:
    listed = api.get(f"/v1/clients/{tenant.id}/subprocessors", headers=tenant.headers).json()
    return next(s["authorisation"] for s in listed if s["id"] == sub_id)


def test_the_transfer_guard(api: TestClient, staff: dict, tenant_a: Tenant) -> None:
    india = new_sub(api, staff, [tenant_a.id], name="Offshore", processing_countries=["FR", "IN"])
    assert {t["country"]: t["standing"] for t in india["transfers"]} == {
        "FR": "eea",
        "IN": "needs_safeguards",
    }
    refused = api.post(f"/v1/subprocessors/{india['id']}/activate", headers=staff)
    assert refused.status_code == 422
    assert refused.json()["rule"] == "transfer-guard-safeguards"
    assert refused.json()["countries_needing_safeguards"] == ["IN"]
    api.patch(f"/v1/subprocessors/{india['id']}", json={"transfer_mechanism": "scc"}, headers=staff)
    assert api.post(f"/v1/subprocessors/{india['id']}/activate", headers=staff).status_code == 200
    # Active with SCC, yet not authorised for the client until it consents.
    assert state(api, tenant_a, india["id"]) == "consent_required"
    consent = api.post(
        f"/v1/clients/{tenant_a.id}/subprocessors/{india['id']}/consent",
        json={"document_ref": "letter-2026-03"},
        headers=tenant_a.headers,
    )
    assert consent.status_code == 201
    assert consent.json()["authorisation"] == "not_notified"  # consent alone is not a path
    us = new_sub(
        api, staff, [tenant_a.id], name="Cloud US", processing_countries=["US"], dpf_certified=True
    )
    assert api.post(f"/v1/subprocessors/{us['id']}/activate", headers=staff).status_code == 200
    assert state(api, tenant_a, us["id"]) == "not_notified"  # active alone authorises nothing
    accepted = api.post(
        f"/v1/clients/{tenant_a.id}/subprocessors/{us['id']}/initial-acceptance",
        json={"contract_ref": "DPA-2025-031, annex 3"},
        headers=staff,
    )
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["authorisation"] == "authorised"
    assert "DPA-2025-031" in accepted.json()["authorisation_reason"]


def test_activation_needs_the_written_sub_processing_agreement(
    api: TestClient, staff: dict, tenant_a: Tenant
) -> None:
    """GDPR Art. 28(4): bound by a written contract before it processes anything."""
    sub = new_sub(api, staff, [tenant_a.id], agreement_ref=None, agreement_signed_on=None)
    refused = api.post(f"/v1/subprocessors/{sub['id']}/activate", headers=staff)
    assert refused.status_code == 422
    assert refused.json()["rule"] == "subprocessor-written-agreement"
    assert [e["field"] for e in refused.json()["errors"]] == [
        "body.agreement_ref",
        "body.agreement_signed_on",
    ]
    assert api.get(f"/v1/subprocessors/{sub['id']}", headers=staff).json()["status"] == "proposed"
    api.patch(
        f"/v1/subprocessors/{sub['id']}",
        json={"agreement_ref": "SPA-2026-015", "agreement_signed_on": "2026-02-10"},
        headers=staff,
    )
    assert api.post(f"/v1/subprocessors/{sub['id']}/activate", headers=staff).status_code == 200
    # Once active, the agreement cannot be taken away.
    cleared = api.patch(
        f"/v1/subprocessors/{sub['id']}", json={"agreement_ref": None}, headers=staff
    )
    assert cleared.status_code == 422
    assert cleared.json()["rule"] == "subprocessor-written-agreement"


@pytest.mark.parametrize("territory", ["GP", "GF", "MQ", "RE", "YT", "MF", "AX"])
def test_outermost_regions_and_aland_activate_with_eea(
    api: TestClient, staff: dict, tenant_a: Tenant, territory: str
) -> None:
    sub = new_sub(
        api, staff, [tenant_a.id], processing_countries=[territory], transfer_mechanism="eea"
    )
    assert sub["transfers"] == [{"country": territory, "standing": "eea"}]
    assert api.post(f"/v1/subprocessors/{sub['id']}/activate", headers=staff).status_code == 200


def test_change_notices_and_their_deadlines(
    live_app: FastAPI, live: TestClient, staff: dict, receiver: Receiver, clock: MovableClock
) -> None:
    alpha = make_tenant(live, staff, "Alpha")
    beta = make_tenant(live, staff, "Beta")
    live.patch(f"/v1/clients/{beta.id}", json={"objection_window_days": 45}, headers=staff)
    register(live, alpha.headers, receiver, "/alpha")
    register(live, beta.headers, receiver, "/beta")
    register(
        live,
        staff,
        receiver,
        "/scr",
        event_types=["subprocessor.objection", "subprocessor.approval"],
    )
    sub = new_sub(live, staff, [alpha.id, beta.id])
    # Beta's window, if the notice arrives today (Monday 2 March), ends 45 days later:
    # Thursday 16 April at 23:59:59 Paris; the change may take effect from the 17th.
    early = change(live, staff, [sub["id"]], "2026-04-16")
    assert early.status_code == 422
    assert early.json()["earliest_effective_date"] == "2026-04-17"
    created = change(live, staff, [sub["id"]], "2026-04-17")
    assert created.status_code == 201
    # Written, not yet received: no deadline runs (SPEC §6, §8.4).
    assert {(r["state"], r["objection_deadline"]) for r in created.json()["recipients"]} == {
        ("notice_pending", None)
    }
    settle(live_app)
    (to_alpha,) = receiver.at("/alpha")
    (to_beta,) = receiver.at("/beta")
    assert to_alpha.payload["type"] == "subprocessor.change_notice"
    assert to_alpha.payload["data"]["objection_window_days"] == 30
    assert to_beta.payload["data"]["objection_window_days"] == 45
    assert beta.id not in to_alpha.body.decode()

    change_id = created.json()["id"]
    # The windows run from the 2xx, to 23:59:59 Paris (summer time by then) of the last day.
    recipients = live.get(f"/v1/subprocessor-changes/{change_id}", headers=staff).json()
    deadlines = {
        r["client_id"]: (r["state"], r["objection_deadline"]) for r in recipients["recipients"]
    }
    assert deadlines == {
        alpha.id: ("notified", "2026-04-01T21:59:59Z"),
        beta.id: ("notified", "2026-04-16T21:59:59Z"),
    }
    objection = live.post(
        f"/v1/subprocessor-changes/{change_id}/objections",
        json={"reason": "Data in marketing"},
        headers=alpha.headers,
    )
    assert objection.status_code == 200
    assert [r["client_id"] for r in objection.json()["recipients"]] == [alpha.id]
    # The deadline-soon reminder: three days before Beta's deadline, once; none for Alpha.
    clock.set(clock.now() + timedelta(days=42))
    settle(live_app)
    clock.advance(timedelta(days=1))
    settle(live_app)
    assert [r.payload["type"] for r in receiver.at("/beta")].count(
        "subprocessor.objection_deadline_soon"
    ) == 1
    assert "subprocessor.objection_deadline_soon" not in [
        r.payload["type"] for r in receiver.at("/alpha")
    ]
    clock.set(clock.now() + timedelta(days=3))
    late = live.post(
        f"/v1/subprocessor-changes/{change_id}/objections",
        json={"reason": "Too late"},
        headers=beta.headers,
    )
    assert late.status_code == 422
    assert late.json()["rule"] == "objection-deadline-passed"
    approval = live.post(
        f"/v1/subprocessor-changes/{change_id}/approvals",
        json={"client_id": beta.id},
        headers=staff,
    )
    assert approval.status_code == 200
    settle(live_app)
    to_staff = [(r.payload["type"], r.payload["data"]["client_id"]) for r in receiver.at("/scr")]
    assert to_staff == [("subprocessor.objection", alpha.id), ("subprocessor.approval", beta.id)]


def test_a_notice_that_reaches_no_client_is_refused(api: TestClient, staff: dict) -> None:
    lonely = new_sub(api, staff, [])
    refused = change(api, staff, [lonely["id"]], "2027-01-01")
    assert refused.status_code == 422
    assert refused.json()["rule"] == "change-notice-recipients"


@pytest.mark.parametrize(
    ("case", "steps", "expected"),
    [
        ("general, window open", [], "objection_window_open"),
        ("general, deadline passed", ["wait"], "authorised"),
        ("general, never reached", ["unreachable"], "notice_pending"),
        ("general, never reached, a month on", ["unreachable", "wait"], "notice_pending"),
        ("general, objected", ["object"], "objected"),
        ("specific, not yet approved", ["specific"], "pending_approval"),
        ("specific, deadline passed", ["specific", "wait"], "pending_approval"),
        ("specific, approved", ["specific", "approve"], "authorised"),
        ("transfer, no consent", ["transfer"], "consent_required"),
        ("transfer, consent and approval", ["transfer", "consent", "approve"], "authorised"),
        ("not notified, proposed", ["no-notice"], "not_notified"),
        ("not notified, active", ["no-notice", "activate"], "not_notified"),
        ("not notified, client added by PATCH", ["no-notice", "patch-client"], "not_notified"),
        ("initial acceptance", ["no-notice", "initial"], "authorised"),
        (
            "initial acceptance, consent missing",
            ["transfer", "no-notice", "initial"],
            "consent_required",
        ),
        ("retired", ["retire"], "retired"),
    ],
)
def test_authorisation_states(
    live_app: FastAPI,
    live: TestClient,
    staff: dict,
    receiver: Receiver,
    clock: MovableClock,
    case: str,
    steps: list[str],
    expected: str,
) -> None:
    api = live
    tenant = make_tenant(api, staff, "Gamma")
    if "unreachable" not in steps:
        register(api, tenant.headers, receiver, "/gamma")
    if "specific" in steps:
        api.patch(
            f"/v1/clients/{tenant.id}",
            json={"subprocessor_authorisation": "specific"},
            headers=staff,
        )
    fields = (
        {"processing_countries": ["BR"], "transfer_mechanism": "scc"} if "transfer" in steps else {}
    )
    sub = new_sub(api, staff, [tenant.id], **fields)
    assert api.post(f"/v1/subprocessors/{sub['id']}/activate", headers=staff).status_code == 200
    if "no-notice" in steps:
        sub = new_sub(
            api, staff, [] if "patch-client" in steps else [tenant.id], name="Not yet", **fields
        )
        if "patch-client" in steps:
            patched = api.patch(
                f"/v1/subprocessors/{sub['id']}", json={"client_ids": [tenant.id]}, headers=staff
            )
            assert patched.status_code == 200
        if "activate" in steps or "patch-client" in steps:
            activated = api.post(f"/v1/subprocessors/{sub['id']}/activate", headers=staff)
            assert activated.status_code == 200
        if "initial" in steps:
            accepted = api.post(
                f"/v1/clients/{tenant.id}/subprocessors/{sub['id']}/initial-acceptance",
                json={"contract_ref": "DPA-2025-031"},
                headers=staff,
            )
            assert accepted.status_code == 201
    else:
        created = change(api, staff, [sub["id"]], "2026-05-01")
        assert created.status_code == 201, created.text
        change_id = created.json()["id"]
        settle(live_app)
        if "consent" in steps:
            api.post(
                f"/v1/clients/{tenant.id}/subprocessors/{sub['id']}/consent",
                json={},
                headers=tenant.headers,
            )
        if "object" in steps:
            api.post(
                f"/v1/subprocessor-changes/{change_id}/objections",
                json={"reason": "No"},
                headers=tenant.headers,
            )
        if "approve" in steps:
            approved = api.post(
                f"/v1/subprocessor-changes/{change_id}/approvals", headers=tenant.headers
            )
            assert approved.status_code == 200
    if "retire" in steps:
        api.post(f"/v1/subprocessors/{sub['id']}/retire", headers=staff)
    if "wait" in steps:
        clock.advance(timedelta(days=31))
        settle(live_app)
    assert state(api, tenant, sub["id"]) == expected, case


def test_instructions_that_forbid_transfers_block_any_third_country(
    live_app: FastAPI, live: TestClient, staff: dict, tenant_a: Tenant
) -> None:
    """Seed §2.2, §2.9: the client's current written instructions govern transfers, whatever
    consent or acceptance says; a new version allowing them, once acknowledged, lifts it."""
    api = live
    us = new_sub(
        api, staff, [tenant_a.id], name="Cloud US", processing_countries=["US"], dpf_certified=True
    )
    api.post(
        f"/v1/clients/{tenant_a.id}/subprocessors/{us['id']}/initial-acceptance",
        json={"contract_ref": "DPA-2025-031"},
        headers=staff,
    )
    assert state(api, tenant_a, us["id"]) == "authorised"
    url = f"/v1/clients/{tenant_a.id}/instructions"
    version = {**INSTRUCTIONS, "third_country_transfers_allowed": False}
    first = api.post(url, json=version, headers=tenant_a.headers).json()
    assert api.post(f"{url}/{first['version']}/acknowledge", headers=staff).status_code == 200
    listed = api.get(f"/v1/clients/{tenant_a.id}/subprocessors", headers=tenant_a.headers).json()
    (cloud,) = listed
    assert cloud["authorisation"] == "blocked_by_instructions"
    assert "US" in cloud["authorisation_reason"] and "version 1" in cloud["authorisation_reason"]
    second = api.post(
        url, json={**version, "third_country_transfers_allowed": True}, headers=tenant_a.headers
    ).json()
    assert state(api, tenant_a, us["id"]) == "blocked_by_instructions"  # not yet current
    assert api.post(f"{url}/{second['version']}/acknowledge", headers=staff).status_code == 200
    assert state(api, tenant_a, us["id"]) == "authorised"


def test_a_client_sees_a_proposed_sub_processor_it_was_told_about(
    live_app: FastAPI, live: TestClient, staff: dict, receiver: Receiver, tenant_a: Tenant
) -> None:
    """Named in a change notice that reached the client, before the client is on its list."""
    register(live, tenant_a.headers, receiver, "/alpha")
    proposed = new_sub(live, staff, [], name="Proposed mailer")
    created = change(live, staff, [proposed["id"]], "2026-05-01", client_ids=[tenant_a.id])
    assert created.status_code == 201, created.text
    settle(live_app)
    objected = live.post(
        f"/v1/subprocessor-changes/{created.json()['id']}/objections",
        json={"reason": "We do not want this mailer"},
        headers=tenant_a.headers,
    )
    assert objected.status_code == 200
    assert state(live, tenant_a, proposed["id"]) == "objected"


def test_a_client_pages_through_its_own_sub_processors_only(
    api: TestClient, staff: dict, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    """Pages are full: the filter on the client's membership runs before the page is cut."""
    mine = [new_sub(api, staff, [tenant_a.id], name=f"Mine {n}")["id"] for n in range(3)]
    for n in range(5):
        new_sub(api, staff, [tenant_b.id], name=f"Theirs {n}")

    seen: list[list[str]] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api.get("/v1/subprocessors", params=params, headers=tenant_a.headers).json()
        seen.append([item["id"] for item in page["items"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [len(ids) for ids in seen] == [2, 1]
    assert sorted(sub_id for ids in seen for sub_id in ids) == sorted(mine)


def pending_change(api: TestClient, staff: dict, tenant: Tenant, receiver: Receiver) -> str:
    """A change notice to one client with an endpoint, written and not yet delivered (no
    worker runs): its id."""
    register(api, tenant.headers, receiver, "/alpha")
    sub = new_sub(api, staff, [tenant.id])
    created = change(api, staff, [sub["id"]], "2026-04-17")
    assert created.status_code == 201, created.text
    return created.json()["id"]


def read_as_a_request(session: Session, change_id: str) -> tuple[ChangeNotice, ChangeRecipient]:
    """The change notice and its one recipient, as an answering request reads them first."""
    notice = session.get(ChangeNotice, change_id)
    assert notice is not None
    (recipient,) = changes._recipients(session, notice.id)
    return notice, recipient


def worker_records_2xx(app: FastAPI, clock: MovableClock, recipient_id: str, at: object) -> None:
    """What the worker does when an endpoint answers 2xx to the recipient's notice: the
    delivery hook, in a transaction of its own, committed."""
    with Session(app.state.context.engine) as worker_session:
        (sent,) = notices_service.of_subject(worker_session, recipient_id)
        notices_service.on_delivered(worker_session, clock, [(sent.event_id, at)])
        worker_session.commit()


def test_an_answer_after_the_worker_recorded_the_notice_keeps_the_deliverys_window(
    app: FastAPI,
    api: TestClient,
    staff: dict,
    tenant_a: Tenant,
    receiver: Receiver,
    clock: MovableClock,
) -> None:
    """The worker records the change notice's 2xx between the moment an approval request read
    the recipient and the moment it answers: the answer sees the notice as notified then (its
    window from the delivery, not from the answer) instead of failing on what it read first."""
    change_id = pending_change(api, staff, tenant_a, receiver)
    delivered_at = clock.now()
    with Session(app.state.context.engine) as request_session:
        notice, recipient = read_as_a_request(request_session, change_id)
        assert recipient.notified_at is None
        worker_records_2xx(app, clock, recipient.id, delivered_at)  # meanwhile
        clock.advance(timedelta(hours=2))
        principal = Principal(key_id=tenant_a.key_id, role=Role.client, client_id=tenant_a.id)
        changes.respond(request_session, clock, principal, notice, "approved", None, None)
        request_session.commit()
    answered = api.get(f"/v1/subprocessor-changes/{change_id}", headers=staff).json()
    (shown,) = answered["recipients"]
    assert shown["response"] == "approved"
    assert shown["notified_at"] == delivered_at.isoformat().replace("+00:00", "Z")
    assert shown["objection_deadline"] == "2026-04-01T21:59:59Z"  # 30 days from the 2xx


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_2xx_recorded_while_an_answer_acknowledges_still_starts_the_window(
    app: FastAPI,
    api: TestClient,
    staff: dict,
    tenant_a: Tenant,
    receiver: Receiver,
    clock: MovableClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """SQLite: the worker's 2xx commits after the answer read the recipient (not notified)
    and before the answer's first write. (On PostgreSQL the answer holds the recipient's row
    lock from that read: the worker waits for it.)"""
    change_id = pending_change(api, staff, tenant_a, receiver)
    delivered_at = clock.now()
    acknowledge = notices_service.acknowledge

    def worker_first(session: Session, clock: MovableClock, **found: str) -> list:
        worker_records_2xx(app, clock, found["subject"], delivered_at)
        return acknowledge(session, clock, **found)

    monkeypatch.setattr(changes.notices, "acknowledge", worker_first)
    clock.advance(timedelta(hours=2))
    approval = api.post(f"/v1/subprocessor-changes/{change_id}/approvals", headers=tenant_a.headers)
    assert approval.status_code == 200, approval.text
    (shown,) = approval.json()["recipients"]
    assert shown["notified_at"] == delivered_at.isoformat().replace("+00:00", "Z")
    assert shown["objection_deadline"] == "2026-04-01T21:59:59Z"


def test_a_second_answer_that_read_before_the_first_committed_gets_the_409(
    app: FastAPI,
    api: TestClient,
    staff: dict,
    tenant_a: Tenant,
    receiver: Receiver,
    clock: MovableClock,
) -> None:
    """Staff record an approval for the client while the client's own objection is on its way:
    the one that read the recipient first but answers second finds the first answer."""
    change_id = pending_change(api, staff, tenant_a, receiver)
    with Session(app.state.context.engine) as second:
        notice, recipient = read_as_a_request(second, change_id)
        assert recipient.response is None
        first = api.post(
            f"/v1/subprocessor-changes/{change_id}/objections",
            json={"reason": "Data in marketing"},
            headers=tenant_a.headers,
        )
        assert first.status_code == 200, first.text
        staff_key = Principal(key_id="staff", role=Role.staff, client_id=None)
        with pytest.raises(Conflict):
            changes.respond(second, clock, staff_key, notice, "approved", tenant_a.id, None)
        second.rollback()
    answered = api.get(f"/v1/subprocessor-changes/{change_id}", headers=staff).json()
    assert [r["response"] for r in answered["recipients"]] == ["objected"]
