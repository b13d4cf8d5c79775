"""SPEC §10, the record of processing activities (Art. 30(2)): built from live data, the current
instruction version's categories, every third-country transfer with its safeguard, and what is
missing listed, never invented; the CSV form holds the same facts."""

from __future__ import annotations

import csv
import io

from fastapi.testclient import TestClient

from tests.conftest import Tenant

EVIDENCE = {
    "document_ref": "DPA annex 2",
    "document_sha256": "b" * 64,
    "signed_by": "Alpha CEO",
    "received_at": "2026-03-01T09:00:00Z",
}


def sub(api: TestClient, staff: dict, tenant: Tenant, name: str, **fields) -> dict:
    response = api.post(
        "/v1/subprocessors",
        json={
            "name": name,
            "legal_entity": f"{name} Inc.",
            "service": "Mailing",
            "agreement_ref": "SPA-1",
            "agreement_signed_on": "2026-02-01",
            "client_ids": [tenant.id],
            **fields,
        },
        headers=staff,
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_a_clients_record_shows_its_current_categories_and_both_transfers(
    api: TestClient, staff: dict, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    url = f"/v1/clients/{tenant_a.id}/instructions"
    first = {
        "purposes": ["Hosting"],
        "data_categories": [{"name": "server logs", "retention": "P1Y"}],
        "evidence": EVIDENCE,
    }
    second = {
        "purposes": ["Hosting", "Mailing campaigns"],
        "data_categories": [{"name": "customer e-mail addresses", "retention": "P3Y"}],
        "data_subject_categories": ["customers"],
        "processing_operations": ["storage", "sending"],
        "security_measures": ["TLS"],
        "third_country_transfers_allowed": True,
        "evidence": EVIDENCE,
    }
    assert api.post(url, json=first, headers=tenant_a.headers).status_code == 201
    assert api.post(url, json=second, headers=tenant_a.headers).status_code == 201
    ack = api.post(f"{url}/2/acknowledge", headers=staff)
    assert ack.status_code == 200, ack.text
    # A third version submitted but not acknowledged yet is not in force: the record keeps 2.
    third = {**second, "purposes": ["Profiling"]}
    assert api.post(url, json=third, headers=tenant_a.headers).status_code == 201
    dpf = sub(api, staff, tenant_a, "US Mailer", processing_countries=["US"], dpf_certified=True)
    scc = sub(
        api, staff, tenant_a, "India Support", processing_countries=["IN"], transfer_mechanism="scc"
    )
    bare = sub(api, staff, tenant_a, "Brazil Backup", processing_countries=["BR"])

    record = api.get(f"/v1/clients/{tenant_a.id}/record", headers=tenant_a.headers)
    assert record.status_code == 200, record.text
    body = record.json()
    assert body["processor"]["name"] == "Groupe SCR"
    assert "processor.address" in body["missing"]
    (entry,) = body["controllers"]
    assert entry["instruction_version"] == 2
    assert entry["categories_of_processing"]["purposes"] == ["Hosting", "Mailing campaigns"]
    transfers = {t["subprocessor_id"]: t for t in entry["transfers"]}
    assert transfers[dpf["id"]]["country"] == "US"
    assert "Data Privacy Framework" in transfers[dpf["id"]]["safeguard"]
    assert transfers[scc["id"]]["country"] == "IN"
    assert "SCC" in transfers[scc["id"]]["safeguard"]
    # No safeguard recorded for Brazil: shown as missing, not made up.
    assert transfers[bare["id"]]["safeguard"] is None
    assert f"transfers.{bare['id']}.BR.safeguard" in entry["missing"]
    assert "controller.dpo_or_privacy_contact" in entry["missing"]

    as_csv = api.get(
        f"/v1/clients/{tenant_a.id}/record", headers={**tenant_a.headers, "Accept": "text/csv"}
    )
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert rows and set(rows[0]) == {"controller_id", "controller", "section", "item", "value"}
    facts = {(r["section"], r["item"], r["value"]) for r in rows}
    assert ("processing", "purposes", "Mailing campaigns") in facts
    assert ("instructions", "version", "2") in facts
    transfer_rows = [r for r in rows if r["section"] == "transfer"]
    assert {r["item"] for r in transfer_rows} == {"US", "IN", "BR"}
    assert any("SCC" in r["value"] and scc["id"] in r["value"] for r in transfer_rows)
    missing_rows = {r["value"] for r in rows if r["section"] == "missing"}
    assert set(entry["missing"]) | set(body["missing"]) == missing_rows
    assert (
        api.get(f"/v1/clients/{tenant_a.id}/record?format=csv", headers=staff).text.count("\n")
        == len(rows) + 1
    )

    # The register: every controller, staff only; the other client never sees this one.
    register = api.get("/v1/record", headers=staff).json()
    assert {c["controller"]["client_id"] for c in register["controllers"]} == {
        tenant_a.id,
        tenant_b.id,
    }
    assert api.get("/v1/record", headers=tenant_b.headers).status_code == 403
    assert api.get(f"/v1/clients/{tenant_a.id}/record", headers=tenant_b.headers).status_code == 404
