"""docs/hub-openapi.json is the hub's generated OpenAPI document, kept in step with the code."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any, get_args

import jsonschema
import pytest
import requests

from gateway.transfer import (
    BatchReceipt,
    FormatError,
    HubClient,
    HubRejected,
    Problem,
    Rejection,
    Sealed,
    Sender,
)
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
from gateway.transfer.receipt import RECEIPT_KEYS, RECEIPT_VERSION, Integer, Status, Text, wire_fields
from gateway.transfer.wire import canonical_json
from hub import launch, openapi
from hub.app import api
from hub.settings import Settings

from .conftest import SENDER, Rec

Seal = Callable[..., tuple[Path, Sealed]]
Post = Callable[..., requests.Response]

REPO = Path(__file__).resolve().parents[2]
COMMITTED = REPO / "docs" / "hub-openapi.json"
REGENERATE = "python -m hub openapi > docs/hub-openapi.json"


@pytest.fixture
def settings(tmp_path: Path, keys_root: Path, schemas_dir: Path) -> Settings:
    """This module's hub serves /openapi.json, which a hub does only when told to (HUB_DOCS)."""
    return Settings(home=tmp_path / "hub", keys=keys_root / "hub", schemas=schemas_dir, docs=True)


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return openapi.document(api())


def test_the_committed_document_is_up_to_date() -> None:
    assert COMMITTED.read_text("utf-8") == openapi.text(api()), (
        f"docs/hub-openapi.json is stale: {REGENERATE}"
    )


def test_the_cli_prints_exactly_the_committed_document() -> None:
    out = subprocess.run(launch.hub_command("openapi"), cwd=REPO, capture_output=True, check=True, timeout=60)
    assert out.stdout == COMMITTED.read_bytes()


def test_the_push_documents_its_headers_body_and_every_status(document: dict[str, Any]) -> None:
    push = document["paths"][BATCHES_PATH]["post"]
    headers = {p["name"]: p for p in push["parameters"] if p["in"] == "header"}
    assert set(headers) == {IDEMPOTENCY_HEADER, MANIFEST_HEADER, SIGNATURE_HEADER}
    assert all(p["required"] for p in headers.values())
    assert push["requestBody"]["required"] is True
    assert list(push["requestBody"]["content"]) == [ENVELOPE_MEDIA_TYPE]
    responses = push["responses"]
    assert set(responses) == {"200", "400", "401", "403", "408", "409", "413", "422", "431", "500", "503"}
    assert responses["200"]["headers"][RECEIPT_SIGNATURE_HEADER]["required"] is True
    assert "certificate_sender_mismatch" in responses["403"]["description"]
    receipt, error = "#/components/schemas/Receipt", "#/components/schemas/Error"
    assert responses["200"]["content"]["application/json"]["schema"] == {"$ref": receipt}
    assert responses["401"]["content"]["application/json"]["schema"] == {"$ref": error}
    either = responses["422"]["content"]["application/json"]["schema"]["oneOf"]
    assert either == [{"$ref": receipt}, {"$ref": error}]


def test_the_bodies_and_mutual_tls_are_described(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert schemas["Error"]["properties"]["error"] == {"$ref": "#/components/schemas/Problem"}
    assert document["components"]["securitySchemes"]["mutualTLS"]["type"] == "mutualTLS"
    assert document["security"] == [{"mutualTLS": []}]
    assert set(document["paths"]) == {BATCHES_PATH, HEALTH_PATH, KEYS_PATH}


@pytest.mark.parametrize(("name", "cls"), list(openapi.RECEIPT_COMPONENTS.items()))
def test_the_receipt_schemas_are_the_receipt_definition(
    document: dict[str, Any], name: str, cls: type
) -> None:
    """Every member the code encodes and decodes is published, required, with the decoder's limits."""
    schema = document["components"]["schemas"][name]
    members = wire_fields(cls)
    assert list(schema["properties"]) == list(members)
    assert schema["required"] == list(members)
    assert schema["additionalProperties"] is False
    for key, rule in members.items():
        published = schema["properties"][key]
        if isinstance(rule, Text):
            assert published["maxLength"] == rule.max_len
            assert published.get("pattern") == (rule.pattern and f"^{rule.pattern.pattern}$")
        if isinstance(rule, Integer):
            assert (published["minimum"], published["maximum"]) == (rule.lo, rule.hi)


def test_the_published_receipt_has_the_receipt_keys_and_statuses(document: dict[str, Any]) -> None:
    assert openapi.RECEIPT_COMPONENTS["Receipt"] is BatchReceipt  # the public name, not a second model
    receipt = document["components"]["schemas"]["Receipt"]
    assert tuple(receipt["required"]) == RECEIPT_KEYS
    assert receipt["properties"]["status"]["enum"] == list(get_args(Status))
    assert receipt["properties"]["v"]["const"] == RECEIPT_VERSION


def _validator(document: dict[str, Any], component: str) -> jsonschema.Draft202012Validator:
    """The published component, its references resolved within the document."""
    root = {"$ref": f"#/components/schemas/{component}", "components": document["components"]}
    return jsonschema.Draft202012Validator(root)


def _valid_json() -> dict[str, Any]:
    receipt = BatchReceipt(
        batch_id="b-1",
        sender=SENDER,
        envelope_sha256="ab" * 32,
        status="rejected",
        accepted=0,
        rejected=(Rejection(3, "11140900MB0000000X|忻市监罚〔2024〕12号", "invalid_record", "金额为负"),),
        error=Problem("invalid_xml", "批次不符合 batch.xsd"),
        received_at=1_800_000_000,
        hub_kid="ed25519:AAAAAAAAAAAAAAAA",
    )
    return json.loads(receipt.encode())  # type: ignore[no-any-return]


def _without(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda obj: obj.pop(key)


def _setting(key: str, value: object) -> Callable[[dict[str, Any]], None]:
    return lambda obj: obj.__setitem__(key, value)


def _in_rejection(change: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    return lambda obj: change(obj["rejected"][0])


def _in_error(change: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    return lambda obj: change(obj["error"])


CHANGES: dict[str, Callable[[dict[str, Any]], None]] = {
    "unchanged": lambda obj: None,
    "accepted, no error": lambda obj: obj.update(status="accepted", accepted=7, rejected=[], error=None),
    **{f"without {key}": _without(key) for key in RECEIPT_KEYS},
    "an extra member": _setting("note", "x"),
    "v 2": _setting("v", 2),
    "status maybe": _setting("status", "maybe"),
    "accepted -1": _setting("accepted", -1),
    "accepted true": _setting("accepted", True),
    "accepted 2^53": _setting("accepted", 2**53),
    "received_at as text": _setting("received_at", "1800000000"),
    "batch_id with a slash": _setting("batch_id", "a/b"),
    "batch_id of 129": _setting("batch_id", "b" * 129),
    "sender of 65": _setting("sender", "s" * 65),
    "envelope_sha256 in capitals": _setting("envelope_sha256", "AB" * 32),
    "hub_kid without prefix": _setting("hub_kid", "AAAAAAAAAAAAAAAA"),
    "rejected an object": _setting("rejected", {}),
    "rejected of text": _setting("rejected", ["x"]),
    "error as text": _setting("error", "x"),
    "rejection index -3": _in_rejection(_setting("index", -3)),
    "rejection key of 1025": _in_rejection(_setting("key", "k" * 1025)),
    "rejection key of 1024": _in_rejection(_setting("key", "k" * 1024)),
    "rejection code with a space": _in_rejection(_setting("code", "bad code")),
    "rejection code of 65": _in_rejection(_setting("code", "c" * 65)),
    "rejection message of 4001": _in_rejection(_setting("message", "长" * 4001)),
    "rejection message of 4000": _in_rejection(_setting("message", "长" * 4000)),
    "rejection without key": _in_rejection(_without("key")),
    "rejection with more": _in_rejection(_setting("line", 3)),
    "error without message": _in_error(_without("message")),
    "error code empty": _in_error(_setting("code", "")),
    "error message of 4001": _in_error(_setting("message", "x" * 4001)),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_the_published_schema_accepts_exactly_what_the_decoder_accepts(
    document: dict[str, Any], change: str
) -> None:
    obj = _valid_json()
    CHANGES[change](obj)
    try:
        BatchReceipt.decode(canonical_json(obj))
        decoded = True
    except FormatError:
        decoded = False
    published = _validator(document, "Receipt").is_valid(obj)
    assert published == decoded, f"{change}: the decoder {'accepts' if decoded else 'refuses'} it"
    if change in ("unchanged", "accepted, no error") or change.endswith(("of 1024", "of 4000")):
        assert decoded


def test_real_receipts_and_errors_of_the_hub_validate_against_the_served_schema(
    hub_url: str, sender: Sender, seal_batch: Seal, post_raw: Post
) -> None:
    with requests.Session() as session:
        session.trust_env = False
        served = session.get(hub_url + "/openapi.json", timeout=10).json()
    receipt, error = _validator(served, "Receipt"), _validator(served, "Error")
    negative = Rec("i", (("CF_NR_FK", "-1"),))
    with HubClient(hub_url, sender, retries=0) as client:
        accepted = client.push(*seal_batch("b-1", 1, records=[Rec(), Rec()]), "b-1")
        with pytest.raises(HubRejected) as refused:
            client.push(*seal_batch("b-2", 2, records=[Rec(), negative]), "b-2")
    rejected = refused.value.receipt
    assert rejected is not None and rejected.rejected and rejected.error is not None
    for signed in (accepted, rejected):
        receipt.validate(json.loads(signed.raw))
    envelope, sealed = seal_batch("b-3", 3)
    plain = post_raw(envelope.read_bytes(), sealed, **{SIGNATURE_HEADER: ""})
    assert plain.status_code == 400 and RECEIPT_SIGNATURE_HEADER not in plain.headers
    error.validate(plain.json())


def test_the_running_hub_serves_the_same_document(hub_url: str) -> None:
    with requests.Session() as session:
        session.trust_env = False  # no proxy variables between the test and a loopback hub
        served = session.get(hub_url + "/openapi.json", timeout=10).json()
    assert served == json.loads(COMMITTED.read_text("utf-8"))
