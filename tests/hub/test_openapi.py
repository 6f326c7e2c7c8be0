"""docs/hub-openapi.json is the hub's generated OpenAPI document, kept in step with the code."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests

from gateway.transfer.protocol import (
    BATCHES_PATH,
    ENVELOPE_MEDIA_TYPE,
    HEALTH_PATH,
    IDEMPOTENCY_HEADER,
    KEYS_PATH,
    MANIFEST_HEADER,
    RECEIPT_SIGNATURE_HEADER,
    SIGNATURE_HEADER,
)
from hub import openapi
from hub.app import api

REPO = Path(__file__).resolve().parents[2]
COMMITTED = REPO / "docs" / "hub-openapi.json"
REGENERATE = "python -m hub openapi > docs/hub-openapi.json"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return openapi.document(api())


def test_the_committed_document_is_up_to_date() -> None:
    assert COMMITTED.read_text("utf-8") == openapi.text(api()), (
        f"docs/hub-openapi.json is stale: {REGENERATE}"
    )


def test_the_cli_prints_exactly_the_committed_document() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "hub", "openapi"], cwd=REPO, capture_output=True, check=True, timeout=60
    )
    assert out.stdout == COMMITTED.read_bytes()


def test_the_push_documents_its_headers_body_and_every_status(document: dict[str, Any]) -> None:
    push = document["paths"][BATCHES_PATH]["post"]
    headers = {p["name"]: p for p in push["parameters"] if p["in"] == "header"}
    assert set(headers) == {IDEMPOTENCY_HEADER, MANIFEST_HEADER, SIGNATURE_HEADER}
    assert all(p["required"] for p in headers.values())
    assert push["requestBody"]["required"] is True
    assert list(push["requestBody"]["content"]) == [ENVELOPE_MEDIA_TYPE]
    responses = push["responses"]
    assert set(responses) == {"200", "400", "401", "403", "409", "413", "422", "500"}
    assert responses["200"]["headers"][RECEIPT_SIGNATURE_HEADER]["required"] is True
    assert "certificate_sender_mismatch" in responses["403"]["description"]
    receipt, error = "#/components/schemas/Receipt", "#/components/schemas/Error"
    assert responses["200"]["content"]["application/json"]["schema"] == {"$ref": receipt}
    assert responses["401"]["content"]["application/json"]["schema"] == {"$ref": error}
    either = responses["422"]["content"]["application/json"]["schema"]["oneOf"]
    assert either == [{"$ref": receipt}, {"$ref": error}]


def test_the_bodies_and_mutual_tls_are_described(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert set(schemas["Receipt"]["required"]) == {
        "v",
        "batch_id",
        "sender",
        "envelope_sha256",
        "status",
        "accepted",
        "rejected",
        "error",
        "received_at",
        "hub_kid",
    }
    assert schemas["Receipt"]["properties"]["status"]["enum"] == ["accepted", "rejected"]
    assert schemas["Error"]["properties"]["error"] == {"$ref": "#/components/schemas/Problem"}
    assert document["components"]["securitySchemes"]["mutualTLS"]["type"] == "mutualTLS"
    assert document["security"] == [{"mutualTLS": []}]
    assert set(document["paths"]) == {BATCHES_PATH, HEALTH_PATH, KEYS_PATH}


def test_the_running_hub_serves_the_same_document(hub_url: str) -> None:
    with requests.Session() as session:
        session.trust_env = False  # no proxy variables between the test and a loopback hub
        served = session.get(hub_url + "/openapi.json", timeout=10).json()
    assert served == json.loads(COMMITTED.read_text("utf-8"))
