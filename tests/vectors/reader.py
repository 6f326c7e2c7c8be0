"""A second GWENV1 receiver, written from docs/protocol.md alone, that judges a case file (§9).

It imports nothing of this project (not gateway.transfer), only primitives: cryptography (HPKE, X25519,
Ed25519, AES-GCM, SM4-GCM, HKDF, SHA-256, SM3) and gmssl-pyx (SM2 decryption and verification, on DER
it re-encodes itself after its own strict parsing). Every rule below cites the section it comes from, and
the checks run in the document's order, so for each case it must reach the case's expected outcome by
reading the document, not the library. tests/gateway/transfer/test_vector_cases.py holds it to that.

:func:`judge` returns ``{"outcome": "ok", …}`` or ``{"outcome": "error", "code": …}``; it raises
:class:`Undecided` for an input the document leaves this reader unable to judge (none today; the test
lists any that appear).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

import gmssl_pyx
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hpke import AEAD, KDF, KEM
from cryptography.hazmat.primitives.hpke import Suite as HpkeSuite
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from defusedxml.ElementTree import fromstring

Json = dict[str, Any]

# §1 identifiers
PARTY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
BATCH = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
KID = re.compile(r"(?:x25519|ed25519|sm2enc|sm2sig):[A-Za-z0-9_-]{16}")
HEX64 = re.compile(r"[0-9a-f]{64}")
SAFE = 2**53 - 1
# §3.1 header
CONTENT_TYPE = re.compile(r"[a-z]+/[a-z0-9.+-]{1,60}")
MAX_CREATED_AT = 2**32 - 1
HEADER_KEYS = (
    "v",
    "suite",
    "rcpt_kid",
    "seg",
    "salt",
    "batch_id",
    "seq",
    "sender",
    "created_at",
    "content_type",
    "wrapped_key",
)
# §4 manifest, §5 receipt
MANIFEST_KEYS = (
    "v",
    "suite",
    "kid",
    "nonce",
    "batch_id",
    "seq",
    "sender",
    "recipient_kid",
    "created_at",
    "header_sha256",
    "envelope_sha256",
    "payload_sha256",
    "segments",
    "size",
)
RECEIPT_KEYS = (
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
)
CODE = re.compile(r"[A-Za-z0-9_.:-]{1,64}")

DEFAULT = "GW1-X25519-HPKE-SHA256-AES256GCM-ED25519"
SM = "GW1-SM2-SM3-SM4GCM"
# §2: suite → (encryption key type, signing key type, file key length)
SUITES = {DEFAULT: ("X25519", "Ed25519", 32), SM: ("SM2-ENC", "SM2-SIGN", 16)}
# §6: key type → (kid prefix, use, public key length)
KEY_TYPES = {
    "X25519": ("x25519", "encrypt", 32),
    "Ed25519": ("ed25519", "sign", 32),
    "SM2-ENC": ("sm2enc", "encrypt", 65),
    "SM2-SIGN": ("sm2sig", "sign", 65),
}
# GB/T 32918.5 sm2p256v1
P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
A = P - 3
B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123


class Refused(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class Undecided(Exception):
    """The document does not let this reader judge the input (the test names every such case)."""


# ------------------------------------------------------------------------------ §1 encodings


def strict_json(raw: bytes, max_size: int, code: str) -> Json:
    """§1: UTF-8, no duplicate keys, no floats/NaN/Infinity, an object at the top."""
    if len(raw) > max_size:
        raise Refused(code)

    def pairs(items: list[tuple[str, Any]]) -> Json:
        keys = [k for k, _ in items]
        if len(keys) != len(set(keys)):
            raise Refused(code)
        return dict(items)

    def no_float(_text: str) -> Any:
        raise Refused(code)

    try:
        obj = json.loads(
            raw.decode("utf-8"), object_pairs_hook=pairs, parse_float=no_float, parse_constant=no_float
        )
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise Refused(code) from None
    if not isinstance(obj, dict):
        raise Refused(code)
    return obj


def _in_profile(value: object) -> bool:
    """§1: objects with ASCII keys, strings, integers |n| ≤ 2^53−1, true, false, null, arrays."""
    if value is None or isinstance(value, bool | str):
        return True
    if isinstance(value, int):
        return -SAFE <= value <= SAFE
    if isinstance(value, list):
        return all(_in_profile(v) for v in value)
    if isinstance(value, dict):
        return all(k.isascii() and _in_profile(v) for k, v in value.items())
    return False


def canonical(obj: object) -> bytes | None:
    if not _in_profile(obj):
        return None
    try:
        return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return None


def versioned(raw: bytes, max_size: int, code: str, keys: tuple[str, ...]) -> Json:
    """§3.5 / §4 / §5: size, strict parse, v (unsupported_version), canonical bytes, exact key set."""
    obj = strict_json(raw, max_size, code)
    v = obj.get("v")
    if isinstance(v, bool) or not isinstance(v, int):
        raise Refused(code)
    if v != 1:
        raise Refused("unsupported_version")
    if canonical(obj) != raw or set(obj) != set(keys):
        raise Refused(code)
    return obj


def b64url(text: object, code: str) -> bytes:
    """§1: base64url without padding, canonical trailing bits."""
    if not isinstance(text, str) or not re.fullmatch(r"[A-Za-z0-9_-]*", text) or len(text) % 4 == 1:
        raise Refused(code)
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if base64.urlsafe_b64encode(data).rstrip(b"=").decode() != text:
        raise Refused(code)
    return data


def string(obj: Json, key: str, code: str, pattern: re.Pattern[str] | None = None, max_len: int = 256) -> str:
    value = obj[key]
    if (
        not isinstance(value, str)
        or len(value) > max_len
        or (pattern is not None and not pattern.fullmatch(value))
    ):
        raise Refused(code)
    return value


def integer(obj: Json, key: str, code: str, lo: int = 0, hi: int = SAFE) -> int:
    value = obj[key]
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise Refused(code)
    return value


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sm3(data: bytes) -> bytes:
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize()


# --------------------------------------------------------------------------------- §6 keyring


@dataclass(frozen=True)
class Entry:
    kid: str
    kty: str
    use: str
    owner: str
    public: bytes
    not_before: int
    not_after: int
    params: Json

    def valid_at(self, t: int) -> bool:
        return self.not_before <= t <= self.not_after


def load_keyring(doc: Json) -> dict[str, Entry]:
    """The receiver's keyring from the case (configuration: a malformed one is a broken case file)."""
    entries = {}
    for item in doc["keys"]:
        prefix, use, length = KEY_TYPES[item["kty"]]
        public = base64.urlsafe_b64decode(item["public"] + "==")
        kid = f"{prefix}:{base64.urlsafe_b64encode(hashlib.sha256(public).digest()[:12]).decode()}"
        assert item["kid"] == kid and item["use"] == use and len(public) == length, (
            f"bad keyring entry {item}"
        )
        entries[kid] = Entry(
            kid,
            item["kty"],
            use,
            item["owner"],
            public,
            item["not_before"],
            item["not_after"],
            item.get("params") or {},
        )
    return entries


# ---------------------------------------------------------------------------------- §2.1 SM2


def _der(data: bytes, pos: int, tag: int) -> tuple[bytes, int]:
    """One DER TLV with a minimal definite length (X.690 §10.1)."""
    if pos + 2 > len(data) or data[pos] != tag:
        raise ValueError("tag")
    first, pos = data[pos + 1], pos + 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if not 1 <= count <= 4 or pos + count > len(data):
            raise ValueError("length")
        length = int.from_bytes(data[pos : pos + count], "big")
        if length < 0x80 or data[pos] == 0:  # the short form would do, or a leading zero length byte
            raise ValueError("non-minimal length")
        pos += count
    if pos + length > len(data):
        raise ValueError("short")
    return data[pos : pos + length], pos + length


def _der_uint(data: bytes, pos: int) -> tuple[int, int]:
    content, pos = _der(data, pos, 0x02)
    if not content or content[0] & 0x80 or (len(content) > 1 and content[0] == 0 and content[1] < 0x80):
        raise ValueError("integer")
    return int.from_bytes(content, "big"), pos


def _enc_len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _enc_len(len(content)) + content


def _uint(value: int) -> bytes:
    return _tlv(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def sm2_signature_rs(signature: bytes, encoding: str) -> tuple[int, int]:
    """§2.1, §4: DER (minimal, ≤ 72 bytes) or r ‖ s (64 bytes); 1 ≤ r, s < n."""
    if encoding == "raw":
        if len(signature) != 64:
            raise ValueError("length")
        r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    else:
        if len(signature) > 72:
            raise ValueError("length")
        body, end = _der(signature, 0, 0x30)
        r, pos = _der_uint(body, 0)
        s, pos = _der_uint(body, pos)
        if end != len(signature) or pos != len(body):
            raise ValueError("extra")
    if not (1 <= r < N and 1 <= s < N):
        raise ValueError("range")
    return r, s


def verify(entry: Entry, signature: bytes, data: bytes) -> bool:
    if entry.kty == "Ed25519":
        if len(signature) != 64:
            return False
        try:
            Ed25519PublicKey.from_public_bytes(entry.public).verify(signature, data)
        except InvalidSignature:
            return False
        return True
    try:
        r, s = sm2_signature_rs(signature, entry.params["signature"])
    except ValueError:
        return False
    der = _tlv(0x30, _uint(r) + _uint(s))
    return bool(gmssl_pyx.sm2_verify(entry.public[1:], data, der, signer_id=entry.params["user_id"].encode()))


def _on_curve(x: int, y: int) -> bool:
    return x < P and y < P and (y * y - (x * x * x + A * x + B)) % P == 0


def sm2_ciphertext_der(data: bytes, layout: str) -> bytes:
    """§2.1: parse the agreed layout strictly, then DER C1C3C2 for gmssl-pyx."""
    if layout == "c1c3c2-der":
        body, end = _der(data, 0, 0x30)
        x, pos = _der_uint(body, 0)
        y, pos = _der_uint(body, pos)
        c3, pos = _der(body, pos, 0x04)
        c2, pos = _der(body, pos, 0x04)
        if end != len(data) or pos != len(body):
            raise ValueError("extra")
    else:
        if len(data) <= 65 + 32 or data[0] != 0x04:
            raise ValueError("C1")
        x, y = int.from_bytes(data[1:33], "big"), int.from_bytes(data[33:65], "big")
        rest = data[65:]
        c3, c2 = (rest[:32], rest[32:]) if layout == "c1c3c2" else (rest[-32:], rest[:-32])
    if not _on_curve(x, y) or len(c3) != 32 or not 1 <= len(c2) <= 255:
        raise ValueError("ciphertext")
    return _tlv(0x30, _uint(x) + _uint(y) + _tlv(0x04, c3) + _tlv(0x04, c2))


# ------------------------------------------------------------------------------ §4 manifest


def check_manifest(raw: bytes, signature: bytes, keyring: dict[str, Entry], allowed: list[str]) -> Json:
    """§4, in the document's order."""
    m = versioned(raw, 4096, "bad_manifest", MANIFEST_KEYS)
    suite = string(m, "suite", "bad_manifest", max_len=128)
    if suite not in allowed or suite not in SUITES:
        raise Refused("unsupported_suite")
    string(m, "kid", "bad_manifest", KID)
    if len(b64url(string(m, "nonce", "bad_manifest"), "bad_manifest")) != 16:
        raise Refused("bad_manifest")
    string(m, "batch_id", "bad_manifest", BATCH)
    integer(m, "seq", "bad_manifest")
    string(m, "sender", "bad_manifest", PARTY)
    string(m, "recipient_kid", "bad_manifest", KID)
    integer(m, "created_at", "bad_manifest", 0, MAX_CREATED_AT)
    for key in ("header_sha256", "envelope_sha256", "payload_sha256"):
        string(m, key, "bad_manifest", HEX64)
    integer(m, "segments", "bad_manifest", 1)
    integer(m, "size", "bad_manifest", 1)
    entry = keyring.get(m["kid"])
    if entry is None:
        raise Refused("unknown_kid")
    if entry.use != "sign":
        raise Refused("wrong_key_use")
    if entry.owner != m["sender"]:
        raise Refused("sender_mismatch")
    if entry.kty != SUITES[suite][1]:
        raise Refused("wrong_key_use")
    if not verify(entry, signature, b"gwenv1 manifest\0" + raw):
        raise Refused("bad_signature")
    if not entry.valid_at(m["created_at"]):
        raise Refused("key_not_valid")
    return m


# ------------------------------------------------------------------------------ §3 envelope


def read_header(data: bytes, allowed: list[str]) -> tuple[Json, bytes]:
    """§3.5, steps 1–10."""
    if len(data) < 7 or data[:7] != b"GWENV1\n":
        raise Refused("bad_magic")
    if len(data) < 11:
        raise Refused("truncated")
    length = int.from_bytes(data[7:11], "big")
    if length > 16384:
        raise Refused("header_too_large")
    if len(data) < 11 + length:
        raise Refused("truncated")
    raw = data[11 : 11 + length]
    h = versioned(raw, 16384, "bad_header", HEADER_KEYS)
    suite = string(h, "suite", "bad_header", max_len=128)
    if suite not in allowed or suite not in SUITES:
        raise Refused("unsupported_suite")
    string(h, "rcpt_kid", "bad_header", KID)
    seg = integer(h, "seg", "bad_header", 1024, 4194304)
    if seg & (seg - 1):
        raise Refused("bad_header")
    if len(b64url(h["salt"], "bad_header")) != 16:
        raise Refused("bad_header")
    string(h, "batch_id", "bad_header", BATCH)
    integer(h, "seq", "bad_header")
    string(h, "sender", "bad_header", PARTY)
    integer(h, "created_at", "bad_header", 0, MAX_CREATED_AT)
    string(h, "content_type", "bad_header", CONTENT_TYPE)
    wrapped = b64url(h["wrapped_key"], "bad_header")
    if (suite == DEFAULT and len(wrapped) != 80) or (suite == SM and not 1 <= len(wrapped) <= 256):
        raise Refused("bad_header")
    return h, data[: 11 + length]


def unwrap(h: Json, entry: Entry, private: bytes) -> bytes:
    """§3.2: HPKE, info = "gwenv1|" ‖ canonical(header without wrapped_key); or SM2 in the key's layout."""
    wrapped = b64url(h["wrapped_key"], "bad_header")
    try:
        if h["suite"] == DEFAULT:
            info = b"gwenv1|" + (canonical({k: v for k, v in h.items() if k != "wrapped_key"}) or b"")
            hpke = HpkeSuite(KEM.X25519, KDF.HKDF_SHA256, AEAD.AES_256_GCM)
            file_key = hpke.decrypt(wrapped, X25519PrivateKey.from_private_bytes(private), info=info)
        else:
            file_key = gmssl_pyx.sm2_decrypt(private, sm2_ciphertext_der(wrapped, entry.params["ciphertext"]))
    except (InvalidTag, ValueError, gmssl_pyx.GmsslInnerError):
        raise Refused("unwrap_failed") from None
    if len(file_key) != SUITES[h["suite"]][2]:
        raise Refused("unwrap_failed")
    return file_key


def _open(suite: str, key: bytes, nonce: bytes, chunk: bytes, aad: bytes) -> bytes | None:
    if len(chunk) < 16:
        return None
    try:
        if suite == DEFAULT:
            return AESGCM(key).decrypt(nonce, chunk, aad)
        decryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce, chunk[-16:], min_tag_length=16)).decryptor()
        decryptor.authenticate_additional_data(aad)
        plain = decryptor.update(chunk[:-16])
        decryptor.finalize()
        return plain
    except InvalidTag:
        return None


def open_segments(suite: str, h: Json, head: bytes, body: bytes, file_key: bytes) -> tuple[bytes, int]:
    """§3.3: STREAM with one chunk of look-ahead."""
    salt = b64url(h["salt"], "bad_header")
    if suite == DEFAULT:
        key = HKDF(hashes.SHA256(), 32, salt, b"gwenv1 payload").derive(file_key)
        aad = hashlib.sha256(head).digest()
    else:
        key = HKDF(hashes.SM3(), 16, salt, b"gwenv1 payload").derive(file_key)
        aad = sm3(head)
    full = h["seg"] + 16
    out, pos, index = [], 0, 0
    while True:
        chunk = body[pos : pos + full]
        if len(chunk) < 16:
            raise Refused("truncated")
        last = pos + len(chunk) >= len(body)
        nonce = index.to_bytes(11, "big") + bytes([last])
        plain = _open(suite, key, nonce, chunk, aad)
        if plain is None:
            if _open(suite, key, index.to_bytes(11, "big") + bytes([not last]), chunk, aad) is None:
                raise Refused("segment_tampered")
            raise Refused("truncated" if last else "trailing_data")
        if last and index > 0 and not plain:
            raise Refused("bad_segment")
        out.append(plain)
        if last:
            return b"".join(out), index + 1
        pos, index = pos + full, index + 1


def _recipient(m: Json, receiver: Json, keyring: dict[str, Entry]) -> tuple[Entry, bytes]:
    """§7.2 step 3: the receiver's own encryption key of the suite, valid at created_at, held."""
    entry = keyring.get(m["recipient_kid"])
    private = receiver["private_keys"].get(m["recipient_kid"])
    if (
        entry is None
        or entry.use != "encrypt"
        or entry.owner != receiver["party"]
        or not entry.valid_at(m["created_at"])
        or entry.kty != SUITES[m["suite"]][0]
        or private is None
    ):
        raise Refused("unknown_recipient_kid")
    return entry, bytes.fromhex(private)


def judge_batch(case: Json) -> Json:
    """§7.2 steps 1, 3 (recipient), 4, 5 and the parts of §3 and §4 they name."""
    receiver, given = case["receiver"], case["input"]
    keyring = load_keyring(receiver["keyring"])
    allowed = receiver["allowed_suites"]
    envelope = bytes.fromhex(given["envelope_hex"])
    m = check_manifest(
        bytes.fromhex(given["manifest_hex"]), bytes.fromhex(given["signature_hex"]), keyring, allowed
    )
    entry, private = _recipient(m, receiver, keyring)
    if (len(envelope), sha256(envelope)) != (m["size"], m["envelope_sha256"]):
        raise Refused("envelope_mismatch")
    h, head = read_header(envelope, allowed)
    facts = ("suite", "batch_id", "seq", "sender", "created_at")
    if (
        any(h[k] != m[k] for k in facts)
        or h["rcpt_kid"] != m["recipient_kid"]
        or sha256(head) != m["header_sha256"]
    ):
        raise Refused("header_mismatch")
    if h["content_type"] not in receiver["content_types"]:
        raise Refused("unsupported_content_type")
    file_key = unwrap(h, entry, private)
    plaintext, count = open_segments(h["suite"], h, head, envelope[len(head) :], file_key)
    if (sha256(plaintext), count) != (m["payload_sha256"], m["segments"]):
        raise Refused("payload_mismatch")
    root = fromstring(plaintext)
    return {
        "outcome": "ok",
        "payload_sha256": sha256(plaintext),
        "segments": count,
        "batch": {
            "sender": root.get("sender"),
            "batch_id": root.get("batchId"),
            "seq": int(root.get("seq")),
            "record_type": root.get("recordType"),
            "count": int(root.get("count")),
        },
    }


# ------------------------------------------------------------------------------- §5 receipt


def _object(value: object, keys: tuple[str, ...]) -> Json:
    if not isinstance(value, dict) or set(value) != set(keys):
        raise Refused("bad_receipt")
    return value


def check_receipt(raw: bytes, signature: bytes, pushed: Json, receiver: Json) -> Json:
    """§5, in the document's order; ``pushed`` is the manifest the sender pushed."""
    keyring = load_keyring(receiver["keyring"])
    r = versioned(raw, 4 << 20, "bad_receipt", RECEIPT_KEYS)
    string(r, "batch_id", "bad_receipt", BATCH)
    string(r, "sender", "bad_receipt", PARTY)
    string(r, "envelope_sha256", "bad_receipt", HEX64)
    if r["status"] not in ("accepted", "rejected"):
        raise Refused("bad_receipt")
    integer(r, "accepted", "bad_receipt")
    if not isinstance(r["rejected"], list) or len(r["rejected"]) > 1000:
        raise Refused("bad_receipt")
    for item in r["rejected"]:
        item = _object(item, ("index", "key", "code", "message"))
        integer(item, "index", "bad_receipt")
        string(item, "key", "bad_receipt", max_len=1024)
        string(item, "code", "bad_receipt", CODE)
        string(item, "message", "bad_receipt", max_len=4000)
    if r["error"] is not None:
        problem = _object(r["error"], ("code", "message"))
        string(problem, "code", "bad_receipt", CODE)
        string(problem, "message", "bad_receipt", max_len=4000)
    integer(r, "received_at", "bad_receipt")
    string(r, "hub_kid", "bad_receipt", KID)
    if r["status"] == "accepted" and (r["error"] is not None or r["rejected"]):
        raise Refused("bad_receipt")
    if r["status"] == "rejected" and (r["error"] is None or r["accepted"] != 0):
        raise Refused("bad_receipt")
    entry = keyring.get(r["hub_kid"])
    if entry is None:
        raise Refused("unknown_kid")
    if entry.use != "sign":
        raise Refused("wrong_key_use")
    if entry.owner == receiver["party"] or entry.owner != receiver["hub"]:
        raise Refused("receipt_wrong_signer")
    if entry.kty != SUITES[pushed["suite"]][1]:
        raise Refused("receipt_wrong_suite")
    if not verify(entry, signature, b"gwenv1 receipt\0" + raw):
        raise Refused("bad_signature")
    if not entry.valid_at(r["received_at"]):
        raise Refused("key_not_valid")
    if any(r[k] != pushed[k] for k in ("batch_id", "sender", "envelope_sha256")):
        raise Refused("receipt_mismatch")
    out: Json = {"outcome": "ok", "status": r["status"], "accepted": r["accepted"]}
    if r["error"] is not None:
        out["error"] = r["error"]["code"]
    return out


def judge_receipt(case: Json) -> Json:
    given = case["input"]
    pushed = json.loads(bytes.fromhex(given["manifest_hex"]))
    return check_receipt(
        bytes.fromhex(given["receipt_hex"]), bytes.fromhex(given["signature_hex"]), pushed, case["receiver"]
    )


def judge(case: Json) -> Json:
    """The outcome this reader reaches for one case file (format ``gwenv1-case/1``, §9)."""
    if case.get("format") != "gwenv1-case/1":
        raise Undecided(f"case format {case.get('format')!r}")
    if case["suite"] not in SUITES:
        raise Undecided(f"suite {case['suite']} is not implemented here")
    try:
        return judge_batch(case) if case["kind"] == "batch" else judge_receipt(case)
    except Refused as refused:
        return {"outcome": "error", "code": refused.code}
    except binascii.Error as exc:  # only from the case file's own hex, never from protocol data
        raise Undecided(f"unreadable case file: {exc}") from exc
