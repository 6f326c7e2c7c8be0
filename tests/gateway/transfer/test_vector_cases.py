"""The GWENV1 case files (tests/vectors/cases, docs/protocol.md §9), each judged three ways.

Every case file names its inputs, the receiver's keys and configuration, and one expected outcome: ``ok``
with the plaintext's SHA-256 and the batch inside, or an exact error code. Each is run

* through the library (gateway.transfer.inbound: check_manifest then open_batch; verify_receipt with the
  pushed manifest for receipts),
* through the reference hub's receive path in-process (hub.app via Starlette's TestClient, with a hub
  home, keys directory and clock made from the case), for the batch cases: a hub receives batches and
  signs receipts but never receives a receipt, so the receipt cases are not run through it; instead every
  receipt the hub signs here is checked by the library and by the reader,
* through tests/vectors/reader.py, written from the document alone,

and all three must reach the expected outcome. The generator must still write exactly these files.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from defusedxml.ElementTree import fromstring
from fastapi.testclient import TestClient

from gateway.transfer import (
    HUB_PASSPHRASE_ENV,
    Keyring,
    KeyringError,
    KeyStore,
    Manifest,
    TransferError,
    verify_receipt,
)
from gateway.transfer.inbound import check_manifest, open_batch
from gateway.transfer.keyring import KeyEntry
from gateway.transfer.keytypes import KEY_TYPES_BY_PREFIX, PrivateKey
from gateway.transfer.protocol import (
    BATCHES_PATH,
    ENVELOPE_MEDIA_TYPE,
    IDEMPOTENCY_HEADER,
    MANIFEST_HEADER,
    RECEIPT_SIGNATURE_HEADER,
    SIGNATURE_HEADER,
)
from gateway.transfer.sm import SM2PrivateKey, SM2PublicKey
from gateway.transfer.wire import KID_PREFIXES
from hub.app import create_app
from hub.settings import Settings
from hub.validate import BatchValidator
from tests.vectors import make_cases, reader

REPO = Path(__file__).resolve().parents[3]
CASES_DIR = REPO / "tests" / "vectors" / "cases"
PROTOCOL = REPO / "docs" / "protocol.md"
CASE_PATHS = sorted(CASES_DIR.glob("*/*.json"))
CASE_IDS = [f"{p.parent.name}/{p.stem}" for p in CASE_PATHS]
BATCH_IDS = [
    i
    for i, p in zip(CASE_IDS, CASE_PATHS, strict=True)
    if json.loads(p.read_text("utf-8"))["kind"] == "batch"
]

# Inputs the document-only reader cannot judge, with the reason (the test fails if this list is wrong
# either way). Empty: the reader implements both suites and every rule the cases exercise.
READER_UNDECIDED: dict[str, str] = {}

# Where the reference hub answers differently from the document today. Each is a change the hub must make
# (reported with issue 15); the test fails once the hub is fixed, so that the entry is removed.
HUB_PENDING: dict[str, str] = {}  # cases the hub does not answer as the document says yet: none

# Documented codes that no case file can show, each with why (docs/protocol.md §13 lists them all).
NOT_IN_CASES = {
    # the receiver's memory and policy (§7.2), not the format
    "stale_timestamp": "depends on the receiver's clock against created_at; the cases set the clock",
    "replayed_nonce": "needs an earlier batch at the same receiver",
    "seq_not_increasing": "needs an earlier batch at the same receiver",
    "batch_conflict": "needs an earlier batch at the same receiver",
    "too_large": "the receiver's --max-body",
    "invalid_xml": "the batch layer (schemas/batch.xsd), not the format",
    # HTTP and transport (§7)
    "missing_header": "HTTP headers",
    "idempotency_key_mismatch": "HTTP headers",
    "certificate_sender_mismatch": "mutual TLS",
    "client_certificate_required": "mutual TLS",
    "internal_error": "the hub's own failure",
    # keyring configuration (§6), never from the wire
    "unsupported_key_type": "a keyring entry of an unknown kty",
    "request_timeout": "HTTP: a head or body that stops arriving",
    "request_header_too_large": "HTTP: the request head",
    "too_many_connections": "HTTP: connection limits",
    "invalid_record": "a code inside rejected[] of a receipt, not an outcome",
    # the sender's side
    "receipt_missing": "an HTTP 200 without a receipt (HubClient)",
}


def _case(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text("utf-8"))


def _params(case_id: str) -> list[Any]:
    return [pytest.param(CASES_DIR / f"{i}.json", id=i) for i in case_id]


# ------------------------------------------------------------------------------------ the files


def test_the_generator_writes_exactly_these_files() -> None:
    """Deterministic: fixed keys, salts, file keys, nonces, HPKE ephemeral keys and SM2 k."""
    assert make_cases.build() == make_cases.on_disk(CASES_DIR)


def test_there_are_enough_cases_in_each_suite_and_each_has_the_format() -> None:
    per_suite = Counter(p.parent.name for p in CASE_PATHS)
    assert per_suite["default"] >= 40 and per_suite["sm"] >= 40, per_suite
    for path in CASE_PATHS:
        case = _case(path)
        assert case["format"] == "gwenv1-case/1"
        assert case["id"] == f"{path.parent.name}/{path.stem}"
        expected = case["expected"]
        assert expected["outcome"] in ("ok", "error")
        if case["kind"] == "batch":
            receiver = case["receiver"]
            assert set(receiver) == {
                "party",
                "now",
                "allowed_suites",
                "content_types",
                "keyring",
                "private_keys",
            }
            for entry in receiver["keyring"]["keys"]:  # owner and validity travel with every key
                assert {"owner", "not_before", "not_after"} <= set(entry)
        if case["kind"] == "batch" and expected["outcome"] == "ok":
            assert set(expected) == {"outcome", "payload_sha256", "segments", "batch"}
            if case["suite"] == make_cases.DEFAULT_SUITE_ID:  # the HPKE info bytes, for implementers
                assert case["derived"]["hpke_info_hex"].startswith(b"gwenv1|".hex())


def test_the_cases_cover_the_issue_list() -> None:
    """Both suites: the kinds of damage issue 15 names, each at least once."""
    for suite in ("default", "sm"):
        names = {p.stem for p in CASE_PATHS if p.parent.name == suite}
        for needed in (
            "ok",
            "magic-bit-flip",
            "header-salt-bit-flip",
            "wrapped-key-bit-flip",
            "segment-0-bit-flip",
            "segment-1-tag-bit-flip",
            "manifest-signature-bit-flip",
            "truncated-at-segment-boundary",
            "truncated-inside-middle-segment",
            "segments-swapped",
            "segment-duplicated",
            "trailing-byte",
            "header-from-another-envelope",
            "header-edited-seq",
            "header-v2",
            "suite-not-allowed",
            "recipient-kid-unknown",
            "manifest-kid-unknown",
            "header-kid-unknown-prefix",
            "header-created-at-negative",
            "header-created-at-2-32",
            "header-whitespace",
            "header-padded-salt",
            "header-duplicate-key",
            "header-float",
            "receipt-accepted",
            "receipt-signed-by-another-hub",
            "receipt-wrong-batch",
            "receipt-wrong-suite",
        ):
            assert needed in names, f"{suite}/{needed}"
    sm = {p.stem for p in CASE_PATHS if p.parent.name == "sm" and p.stem.startswith("sm2-")}
    assert {"sm2-ciphertext-c1c3c2", "sm2-ciphertext-c1c2c3", "sm2-signature-raw", "sm2-user-id"} <= sm
    assert len(sm) >= 15


# ------------------------------------------------------------------ the document and the codes


def _documented_codes() -> set[str]:
    """The codes of docs/protocol.md §13's table (first column, in backticks)."""
    text = PROTOCOL.read_text("utf-8")
    section = text.split("## 13. Error codes", 1)[1].split("\n## ", 1)[0]
    return {m.group(1) for m in re.finditer(r"^\| `([a-z_]+)` \|", section, re.M)}


def _codes_in_code() -> set[str]:
    """Every code literal gateway/transfer and hub/ can put on an error."""
    codes: set[str] = set()
    for path in [*(REPO / "gateway" / "transfer").glob("*.py"), *(REPO / "hub").glob("*.py")]:
        text = path.read_text("utf-8")
        codes |= set(re.findall(r'code="([a-z_]+)"', text))
        codes |= set(re.findall(r'code = "([a-z_]+)"', text))
        codes |= set(re.findall(r'Refusal\(\s*\d{3},\s*"([a-z_]+)"', text))
        codes |= set(re.findall(r'Answer\.error\(\s*\d{3},\s*"([a-z_]+)"', text))
    return codes


def test_every_code_in_the_cases_is_documented_and_every_documented_code_is_shown_or_excused() -> None:
    documented = _documented_codes()
    in_cases = {_case(p)["expected"].get("code") for p in CASE_PATHS} - {None}
    assert in_cases <= documented, in_cases - documented
    assert documented == in_cases | set(NOT_IN_CASES), documented ^ (in_cases | set(NOT_IN_CASES))


def test_every_code_the_protocol_code_can_raise_is_documented() -> None:
    """§13 names every wire and receipt code of gateway/transfer and hub/ (key-file and CLI codes of the
    keyring tools are §6's and the operations guide's, not the protocol's)."""
    documented = _documented_codes()
    raised = _codes_in_code()
    # Codes of local key files, passphrases, key tools and TLS set-up (section 6, never on the wire), and
    # the default codes of exception classes that are always raised with a code of their own.
    local_prefixes = ("import_", "passphrase", "keyring_", "key_file", "private_key", "bad_private", "tls_")
    local = {c for c in raised if c.startswith(local_prefixes)} | {
        "keys_partial",
        "no_valid_key",
        "wrong_signer",
        "bad_key_params",
        "wrong_passphrase",
        "bad_format",
        "bad_envelope",
        "hub_rejected",
        "hub_unavailable",
    }
    assert raised - local <= documented, sorted(raised - local - documented)


def test_the_kid_prefixes_are_the_four_key_types() -> None:
    assert set(KID_PREFIXES) == set(KEY_TYPES_BY_PREFIX) == {"x25519", "ed25519", "sm2enc", "sm2sig"}


# ----------------------------------------------------------------------------------- the library


def _private(entry: KeyEntry, hex_value: str) -> PrivateKey:
    raw = bytes.fromhex(hex_value)
    if entry.kty == "X25519":
        return X25519PrivateKey.from_private_bytes(raw)
    if entry.kty == "Ed25519":
        return Ed25519PrivateKey.from_private_bytes(raw)
    return SM2PrivateKey(raw, SM2PublicKey.from_bytes(entry.public))


def _facts(plaintext: bytes) -> dict[str, object]:
    root = fromstring(plaintext)
    return {
        "sender": root.get("sender"),
        "batch_id": root.get("batchId"),
        "seq": int(root.get("seq")),
        "record_type": root.get("recordType"),
        "count": int(root.get("count")),
    }


def _library_batch(case: dict[str, Any]) -> dict[str, object]:
    receiver, given = case["receiver"], case["input"]
    keyring = Keyring.from_json(receiver["keyring"])
    private = receiver["private_keys"]

    def private_key_for(entry: KeyEntry) -> PrivateKey:
        if entry.kid not in private:
            raise KeyringError(f"no private key for {entry.kid}", code="private_key_missing")
        return _private(entry, private[entry.kid])

    out = io.BytesIO()
    try:
        checked = check_manifest(
            bytes.fromhex(given["manifest_hex"]),
            bytes.fromhex(given["signature_hex"]),
            keyring,
            private_key_for=private_key_for,
            allowed_suites=receiver["allowed_suites"],
        )
        opened = open_batch(
            io.BytesIO(bytes.fromhex(given["envelope_hex"])),
            out,
            checked,
            allowed_suites=receiver["allowed_suites"],
            content_types=receiver["content_types"],
        )
    except TransferError as exc:
        return {"outcome": "error", "code": exc.code}
    assert hashlib.sha256(out.getvalue()).hexdigest() == opened.info.payload_sha256
    return {
        "outcome": "ok",
        "payload_sha256": opened.info.payload_sha256,
        "segments": opened.info.segments,
        "batch": _facts(out.getvalue()),
    }


def _library_receipt(case: dict[str, Any]) -> dict[str, object]:
    receiver, given = case["receiver"], case["input"]
    keyring = Keyring.from_json(receiver["keyring"])
    try:
        receipt = verify_receipt(
            bytes.fromhex(given["receipt_hex"]),
            bytes.fromhex(given["signature_hex"]),
            keyring,
            hub_id=receiver["hub"],
            pushed=Manifest.decode(bytes.fromhex(given["manifest_hex"])),
        )
    except TransferError as exc:
        return {"outcome": "error", "code": exc.code}
    out: dict[str, object] = {"outcome": "ok", "status": receipt.status, "accepted": receipt.accepted}
    if receipt.error is not None:
        out["error"] = receipt.error.code
    return out


@pytest.mark.parametrize("path", _params(CASE_IDS))
def test_the_library_reaches_the_expected_outcome(path: Path) -> None:
    case = _case(path)
    got = _library_batch(case) if case["kind"] == "batch" else _library_receipt(case)
    assert got == case["expected"]


# ------------------------------------------------------------------------------------ the reader


@pytest.mark.parametrize("path", _params(CASE_IDS))
def test_the_document_only_reader_reaches_the_expected_outcome(path: Path) -> None:
    case = _case(path)
    case_id = case["id"]
    if case_id in READER_UNDECIDED:
        with pytest.raises(reader.Undecided):
            reader.judge(case)
        return
    assert reader.judge(case) == case["expected"]


def test_the_reader_stands_on_the_document_alone() -> None:
    """It must not lean on the library it checks: no module of this project is imported with it."""
    code = "import json, sys; import tests.vectors.reader; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    ours = {m for m in json.loads(out.stdout) if m.split(".")[0] in ("gateway", "hub", "connectors")}
    assert ours == set()


# --------------------------------------------------------------------------------------- the hub


@pytest.fixture(scope="module")
def validator(schemas_dir: Path) -> BatchValidator:
    return BatchValidator.from_dir(schemas_dir)


def _entry(keyring: Keyring, kid: str) -> KeyEntry:
    return next(e for e in keyring.entries if e.kid == kid)


def _hub(
    case: dict[str, Any], root: Path, schemas_dir: Path, validator: BatchValidator
) -> tuple[TestClient, Settings]:
    """A reference hub made from the case: its keyring and private keys, accepted suites and clock."""
    receiver = case["receiver"]
    keyring = Keyring.from_json(receiver["keyring"])
    store = KeyStore.open(root / "keys", HUB_PASSPHRASE_ENV)
    keyring.save(store.keyring_path)
    for kid, value in receiver["private_keys"].items():
        entry = _entry(keyring, kid)
        store.write_private(entry, _private(entry, value), insecure_plaintext=True)
    settings = Settings(
        home=root / "hub",
        keys=root / "keys",
        schemas=schemas_dir,
        allowed_suites=tuple(receiver["allowed_suites"]),
    )
    app = create_app(settings, validator=validator)
    app.state.hub.receiver.clock = lambda: receiver["now"]
    return TestClient(app), settings


def _hub_outcome(
    case: dict[str, Any], status: int, headers: Any, body: bytes, settings: Settings
) -> dict[str, object]:
    """What the hub's answer amounts to; a signed answer must verify for the library and the reader."""
    receiver = case["receiver"]
    if RECEIPT_SIGNATURE_HEADER not in headers:
        assert status >= 400
        return {"outcome": "error", "code": json.loads(body)["error"]["code"]}
    signature = base64.b64decode(headers[RECEIPT_SIGNATURE_HEADER])
    manifest_raw = bytes.fromhex(case["input"]["manifest_hex"])
    pushed = Manifest.decode(manifest_raw)
    # The sender's view of the hub's keys: the same entries, held by the sender.
    sender_keyring = {**receiver["keyring"], "party": pushed.sender}
    receipt = verify_receipt(
        body, signature, Keyring.from_json(sender_keyring), hub_id=receiver["party"], pushed=pushed
    )
    by_reader = reader.check_receipt(
        body,
        signature,
        json.loads(manifest_raw),
        {"party": pushed.sender, "hub": receiver["party"], "keyring": sender_keyring},
    )
    assert (by_reader["status"], by_reader["accepted"]) == (receipt.status, receipt.accepted)
    if receipt.status == "rejected":
        assert receipt.error is not None and status >= 400
        return {"outcome": "error", "code": receipt.error.code}
    assert status == 200
    stored = (settings.received_dir / pushed.sender / f"{pushed.batch_id}.xml").read_bytes()
    facts = _facts(stored)
    assert receipt.accepted == facts["count"]
    return {
        "outcome": "ok",
        "payload_sha256": hashlib.sha256(stored).hexdigest(),
        "segments": pushed.segments,  # the hub refuses a segment count other than the manifest's
        "batch": facts,
    }


@pytest.mark.parametrize("path", _params(BATCH_IDS))
def test_the_reference_hub_reaches_the_expected_outcome(
    path: Path,
    tmp_path: Path,
    schemas_dir: Path,
    validator: BatchValidator,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    case = _case(path)
    if case["id"] in HUB_PENDING:
        request.applymarker(
            pytest.mark.xfail(strict=True, raises=AssertionError, reason=HUB_PENDING[case["id"]])
        )
    for name in (HUB_PASSPHRASE_ENV, HUB_PASSPHRASE_ENV + "_FILE"):
        monkeypatch.delenv(name, raising=False)  # the case's keys are written and read in clear
    manifest = bytes.fromhex(case["input"]["manifest_hex"])
    try:
        batch_id = json.loads(manifest)["batch_id"]
    except (ValueError, KeyError, TypeError):
        batch_id = make_cases.BATCH_ID
    client, settings = _hub(case, tmp_path, schemas_dir, validator)
    with client:
        response = client.post(
            BATCHES_PATH,
            content=bytes.fromhex(case["input"]["envelope_hex"]),
            headers={
                IDEMPOTENCY_HEADER: str(batch_id),
                MANIFEST_HEADER: base64.b64encode(manifest).decode(),
                SIGNATURE_HEADER: base64.b64encode(bytes.fromhex(case["input"]["signature_hex"])).decode(),
                "Content-Type": ENVELOPE_MEDIA_TYPE,
            },
        )
    got = _hub_outcome(case, response.status_code, response.headers, response.content, settings)
    assert got == case["expected"]
