"""Make the GWENV1 case files: ``python tests/vectors/make_cases.py [--check]``.

One JSON file per case under tests/vectors/cases/<suite>/ (``default``, ``sm``), in the case format
``gwenv1-case/1`` of docs/protocol.md §9: the inputs (envelope, manifest, signature, or a receipt with
the manifest it answers), the receiver's keyring (owners, windows, SM2 agreements), its private keys and
configuration, and the expected outcome: ``ok`` with the plaintext's SHA-256 and the batch it holds, or
the exact error code.

Deterministic: every key, salt, file key and nonce comes from a fixed label, and HPKE's ephemeral key and
SM2's k come from tests/vectors/fixed_random.py instead of the libraries, so running this again writes
the same bytes (``--check`` says whether the files on disk are what it would write;
tests/gateway/transfer/test_vector_cases.py does the same). The framing itself (segments, payload key,
AAD) is written with gateway.transfer's suite primitives; every case is then judged by the library, by
the reference hub and by a reader written from the document alone (tests/vectors/reader.py).

A negative case breaks one thing and keeps the rest valid: a manifest re-signed with the sender's real key
over the broken envelope (so a receiver reaches the check in question), segments encrypted under the
broken header's own AAD, and so on, unless the case is about exactly that binding.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import struct
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

try:  # run as a script (python tests/vectors/make_cases.py) or imported by the tests
    from tests.vectors import fixed_random as fr
except ModuleNotFoundError:  # pragma: no cover - the script's own directory is on sys.path
    import fixed_random as fr  # type: ignore[import-not-found,no-redef]

from gateway.transfer.suites import DEFAULT_SUITE_ID, SM_SUITE_ID, SUITES

HERE = Path(__file__).resolve().parent
CASES_DIR = HERE / "cases"
CASE_FORMAT = "gwenv1-case/1"
GENERATOR = "tests/vectors/make_cases.py"

HUB, SENDER, OTHER_SENDER, OTHER_HUB = "shanxi-hub", "city-001", "city-002", "other-hub"
CREATED_AT = 1790000000  # 2026-09-21T14:13:20Z
CURRENT = (1767225600, 4102444799)  # 2026-01-01 … 2099-12-31: covers CREATED_AT and the hub's start-up
RETIRED = (1735689600, 1767225599)  # the year 2025: closed before CREATED_AT
SEG = 1024  # the smallest segment, so a few KB of XML spans several segments
BATCH_ID, SEQ = "vec-1", 7
SUITE_DIRS = {DEFAULT_SUITE_ID: "default", SM_SUITE_ID: "sm"}
UNKNOWN_SUITE = "GW1-X25519-HPKE-SHA256-CHACHA20POLY1305-ED25519"
MAGIC = b"GWENV1\n"

Json = dict[str, Any]


def fixed(label: str, n: int) -> bytes:
    return hashlib.sha256(f"gwenv1 case {label}".encode()).digest()[:n]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def canonical(obj: object) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ------------------------------------------------------------------------------------------ keys

PREFIX = {"X25519": "x25519", "Ed25519": "ed25519", "SM2-ENC": "sm2enc", "SM2-SIGN": "sm2sig"}
USE = {"X25519": "encrypt", "Ed25519": "sign", "SM2-ENC": "encrypt", "SM2-SIGN": "sign"}
DEFAULT_PARAMS: dict[str, Json | None] = {
    "X25519": None,
    "Ed25519": None,
    "SM2-ENC": {"ciphertext": "c1c3c2-der"},
    "SM2-SIGN": {"user_id": "1234567812345678", "signature": "der"},
}


@dataclass(frozen=True)
class Key:
    label: str
    kty: str
    owner: str
    window: tuple[int, int]
    private: bytes
    public: bytes
    params: Json | None

    @property
    def kid(self) -> str:
        return f"{PREFIX[self.kty]}:{b64url(hashlib.sha256(self.public).digest()[:12])}"

    def entry(self, params: Json | None = None) -> Json:
        out: Json = {
            "kid": self.kid,
            "kty": self.kty,
            "use": USE[self.kty],
            "owner": self.owner,
            "public": b64url(self.public),
            "not_before": self.window[0],
            "not_after": self.window[1],
        }
        chosen = params if params is not None else self.params
        if chosen is not None:
            out["params"] = chosen
        return out


def _key(label: str, kty: str, owner: str, window: tuple[int, int]) -> Key:
    if kty in ("SM2-ENC", "SM2-SIGN"):
        d, public = fr.sm2_private(label)
        return Key(label, kty, owner, window, d, public, DEFAULT_PARAMS[kty])
    raw = fixed(f"key {label}", 32)
    if kty == "X25519":
        pub = X25519PrivateKey.from_private_bytes(raw).public_key()
    else:
        pub = Ed25519PrivateKey.from_private_bytes(raw).public_key()  # type: ignore[assignment]
    public = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return Key(label, kty, owner, window, raw, public, None)


KEYS: dict[str, Key] = {
    k.label: k
    for k in (
        _key("hub-x25519", "X25519", HUB, CURRENT),
        _key("hub-ed25519", "Ed25519", HUB, CURRENT),
        _key("hub-sm2enc", "SM2-ENC", HUB, CURRENT),
        _key("hub-sm2sig", "SM2-SIGN", HUB, CURRENT),
        _key("hub-x25519-2025", "X25519", HUB, RETIRED),
        _key("hub-sm2enc-2025", "SM2-ENC", HUB, RETIRED),
        _key("hub-ed25519-2025", "Ed25519", HUB, RETIRED),
        _key("hub-sm2sig-2025", "SM2-SIGN", HUB, RETIRED),
        _key("city-001-ed25519", "Ed25519", SENDER, CURRENT),
        _key("city-001-sm2sig", "SM2-SIGN", SENDER, CURRENT),
        _key("city-001-ed25519-2025", "Ed25519", SENDER, RETIRED),
        _key("city-001-sm2sig-2025", "SM2-SIGN", SENDER, RETIRED),
        _key("city-002-ed25519", "Ed25519", OTHER_SENDER, CURRENT),
        _key("city-002-sm2sig", "SM2-SIGN", OTHER_SENDER, CURRENT),
        _key("other-hub-ed25519", "Ed25519", OTHER_HUB, CURRENT),
        _key("other-hub-sm2sig", "SM2-SIGN", OTHER_HUB, CURRENT),
        # In nobody's keyring: a key the receiver has never heard of.
        _key("stranger-x25519", "X25519", "stranger", CURRENT),
        _key("stranger-sm2enc", "SM2-ENC", "stranger", CURRENT),
        _key("stranger-ed25519", "Ed25519", "stranger", CURRENT),
        _key("stranger-sm2sig", "SM2-SIGN", "stranger", CURRENT),
    )
}
HUB_KEYRING = (
    "hub-x25519",
    "hub-ed25519",
    "hub-sm2enc",
    "hub-sm2sig",
    "hub-x25519-2025",
    "hub-sm2enc-2025",
    "city-001-ed25519",
    "city-001-sm2sig",
    "city-001-ed25519-2025",
    "city-001-sm2sig-2025",
    "city-002-ed25519",
    "city-002-sm2sig",
)
HUB_PRIVATE = ("hub-x25519", "hub-ed25519", "hub-sm2enc", "hub-sm2sig")
SENDER_KEYRING = (
    "city-001-ed25519",
    "city-001-sm2sig",
    "hub-x25519",
    "hub-ed25519",
    "hub-sm2enc",
    "hub-sm2sig",
    "hub-ed25519-2025",
    "hub-sm2sig-2025",
    "other-hub-ed25519",
    "other-hub-sm2sig",
)

# Which key plays which role in each suite.
ROLES = {
    DEFAULT_SUITE_ID: {
        "enc": "hub-x25519",
        "enc_retired": "hub-x25519-2025",
        "enc_other_suite": "hub-sm2enc",
        "hub_sign": "hub-ed25519",
        "hub_sign_retired": "hub-ed25519-2025",
        "hub_sign_other_suite": "hub-sm2sig",
        "sign": "city-001-ed25519",
        "sign_retired": "city-001-ed25519-2025",
        "sign_other_suite": "city-001-sm2sig",
        "sign_other_sender": "city-002-ed25519",
        "sign_other_hub": "other-hub-ed25519",
        "stranger_enc": "stranger-x25519",
        "stranger_sign": "stranger-ed25519",
    },
    SM_SUITE_ID: {
        "enc": "hub-sm2enc",
        "enc_retired": "hub-sm2enc-2025",
        "enc_other_suite": "hub-x25519",
        "hub_sign": "hub-sm2sig",
        "hub_sign_retired": "hub-sm2sig-2025",
        "hub_sign_other_suite": "hub-ed25519",
        "sign": "city-001-sm2sig",
        "sign_retired": "city-001-sm2sig-2025",
        "sign_other_suite": "city-001-ed25519",
        "sign_other_sender": "city-002-sm2sig",
        "sign_other_hub": "other-hub-sm2sig",
        "stranger_enc": "stranger-sm2enc",
        "stranger_sign": "stranger-sm2sig",
    },
}


def keyring(party: str, labels: tuple[str, ...], params: dict[str, Json]) -> Json:
    return {"v": 1, "party": party, "keys": [KEYS[k].entry(params.get(k)) for k in labels]}


def sign(label: str, data: bytes, params: Json | None = None) -> bytes:
    key = KEYS[label]
    if key.kty == "Ed25519":
        return Ed25519PrivateKey.from_private_bytes(key.private).sign(data)
    p = params or key.params or {}
    r, s = fr.sm2_sign_rs(key.private, key.public, data, p["user_id"])
    return (
        fr.der_signature(r, s) if p["signature"] == "der" else r.to_bytes(32, "big") + s.to_bytes(32, "big")
    )


def sm2_layout(c1: bytes, c3: bytes, c2: bytes, layout: str) -> bytes:
    if layout == "c1c3c2-der":
        return fr.der_ciphertext(c1, c3, c2)
    return c1 + c3 + c2 if layout == "c1c3c2" else c1 + c2 + c3


def wrap(label: str, info: bytes, file_key: bytes, layout: str | None = None) -> bytes:
    key = KEYS[label]
    if key.kty == "X25519":
        public = X25519PrivateKey.from_private_bytes(key.private).public_key()
        return fr.hpke_seal(public, info, file_key, fixed(f"hpke ephemeral {label} {sha256(info)}", 32))
    c1, c3, c2 = fr.sm2_encrypt_parts(key.public, file_key)
    return sm2_layout(c1, c3, c2, layout or (key.params or {})["ciphertext"])


# ------------------------------------------------------------------------------------- the batch

AUTHORITY = "11140900MB0000000X"
COMPANY = "91140900MA0K000000"
_FIELDS = (
    ("CF_XDR_MC", "忻州市某某商贸有限公司"),
    ("CF_XDR_LB", "法人及非法人组织"),
    ("CF_XDR_SHXYM", COMPANY),
    ("CF_FRDB", "张三"),
    ("CF_WSH", None),
    ("CF_WFXW", "销售过期食品"),
    ("CF_SY", "经查，当事人销售过期食品"),
    ("CF_YJ", "《中华人民共和国食品安全法》第一百二十四条"),
    ("CF_CFLB", "罚款"),
    ("CF_NR", "罚款人民币伍仟元"),
    ("CF_NR_FK", "0.5"),
    ("CF_JDRQ", "2024-03-05"),
    ("CF_YXQ", "2025-03-05"),
    ("CF_CFJG", "忻州市市场监督管理局"),
    ("CF_CFJGDM", AUTHORITY),
    ("CF_SJLY", "忻州市市场监督管理局"),
    ("CF_SJLYDM", AUTHORITY),
)


def batch_xml(count: int, *, pad_to: int | None = None) -> bytes:
    """A schemas/batch.xsd batch of ``count`` administrative penalties (frozen text, not rendered from
    the XSDs, so the vectors do not move when a schema does; the hub test checks it still validates)."""
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<Batch xmlns="urn:cn:xinzhou:gateway:1" batchId="{BATCH_ID}" seq="{SEQ}" sender="{SENDER}" '
        f'recordType="admin_penalty" createdAt="2026-09-21T14:13:20Z" count="{count}" schemaVersion="1">',
    ]
    for i in range(count):
        number = f"忻市监罚〔2026〕{i + 1}号"
        body = "".join(f"<{code}>{value or number}</{code}>" for code, value in _FIELDS)
        lines.append(
            f'<Record op="i" id="r{i}" key="{AUTHORITY}|{number}" version="1" entity="{COMPANY}">'
            f"<AdminPenalty>{body}</AdminPenalty></Record>"
        )
    lines.append("</Batch>\n")
    data = "\n".join(lines).encode("utf-8")
    if pad_to is not None:  # whitespace after the root element is allowed XML (Misc)
        assert len(data) <= pad_to
        data += b" " * (pad_to - len(data) - 1) + b"\n"
    return data


def batch_facts(count: int) -> Json:
    return {
        "sender": SENDER,
        "batch_id": BATCH_ID,
        "seq": SEQ,
        "record_type": "admin_penalty",
        "count": count,
    }


# -------------------------------------------------------------------------------------- framing


def frame(header: bytes) -> bytes:
    return MAGIC + struct.pack(">I", len(header)) + header


def payload_key(suite_id: str, file_key: bytes, salt: bytes) -> bytes:
    return SUITES[suite_id].payload_key(file_key, salt)


def segments(
    suite_id: str, key: bytes, head: bytes, plaintext: bytes, seg: int, *, empty_last: bool = False
) -> list[bytes]:
    """STREAM segments of ``plaintext`` under ``head``'s AAD; ``empty_last`` appends an empty final
    segment after full ones (what a correct sender never writes)."""
    suite = SUITES[suite_id]
    aad = suite.header_digest(head)
    cipher = suite.segment_cipher(key)
    pieces = [plaintext[i : i + seg] for i in range(0, len(plaintext), seg)] or [b""]
    if empty_last:
        pieces.append(b"")
    return [
        cipher.encrypt(i.to_bytes(11, "big") + bytes([i == len(pieces) - 1]), piece, aad)
        for i, piece in enumerate(pieces)
    ]


@dataclass
class Sealed:
    """An envelope as built: the header's members, its bytes, the segments and what they hold."""

    suite: str
    core: Json
    wrapped: bytes
    file_key: bytes
    plaintext: bytes
    head: bytes
    segs: list[bytes]
    count: int

    @property
    def header(self) -> Json:
        return {**self.core, "wrapped_key": b64url(self.wrapped)}

    @property
    def envelope(self) -> bytes:
        return self.head + b"".join(self.segs)

    @property
    def info(self) -> bytes:
        return b"gwenv1|" + canonical(self.core)

    @property
    def salt(self) -> bytes:
        return base64.urlsafe_b64decode(self.core["salt"] + "==")

    def derived(self) -> Json:
        out: Json = {}
        if self.suite == DEFAULT_SUITE_ID:
            out["hpke_info_hex"] = self.info.hex()
        out["file_key_hex"] = self.file_key.hex()
        out["payload_key_hex"] = payload_key(self.suite, self.file_key, self.salt).hex()
        out["aad_hex"] = SUITES[self.suite].header_digest(self.head).hex()
        out["header_sha256"] = sha256(self.head)
        return out

    def reframed(self, header_bytes: bytes, *, reencrypt: bool = True) -> Sealed:
        """The same payload behind other header bytes; segments under their AAD unless told otherwise."""
        head = frame(header_bytes)
        if not reencrypt:
            return replace(self, head=head)
        key = payload_key(self.suite, self.file_key, self.salt)
        return replace(
            self, head=head, segs=segments(self.suite, key, head, self.plaintext, self.core["seg"])
        )


def seal(
    suite_id: str,
    *,
    label: str = "base",
    count: int = 3,
    pad_to: int | None = None,
    seg: int = SEG,
    recipient: str | None = None,
    wrap_to: str | None = None,
    layout: str | None = None,
    header_suite: str | None = None,
    **core_changes: object,
) -> Sealed:
    """Seal a batch. ``recipient`` names the key in the header, ``wrap_to`` the key actually wrapped to
    (the same unless a case says otherwise)."""
    roles = ROLES[suite_id]
    recipient = recipient or roles["enc"]
    wrap_to = wrap_to or recipient
    cipher_suite = SUITES[suite_id]
    file_key = fixed(f"{suite_id} {label} file key", cipher_suite.file_key_length)
    salt = fixed(f"{suite_id} {label} salt", 16)
    core: Json = {
        "v": 1,
        "suite": header_suite or suite_id,
        "rcpt_kid": KEYS[recipient].kid,
        "seg": seg,
        "salt": b64url(salt),
        "batch_id": BATCH_ID,
        "seq": SEQ,
        "sender": SENDER,
        "created_at": CREATED_AT,
        "content_type": "application/xml",
        **core_changes,
    }
    plaintext = batch_xml(count, pad_to=pad_to)
    # A header may name a key that cannot wrap for this suite (a signing key, another suite's key): the
    # file key is then wrapped to the hub's real key, and the case is about the name alone.
    if KEYS[wrap_to].kty != cipher_suite.encrypt_kty:
        wrap_to = roles["enc"]
    wrapped = wrap(wrap_to, b"gwenv1|" + canonical(core), file_key, layout)
    head = frame(canonical({**core, "wrapped_key": b64url(wrapped)}))
    key = payload_key(suite_id, file_key, salt)
    return Sealed(
        suite_id,
        core,
        wrapped,
        file_key,
        plaintext,
        head,
        segments(suite_id, key, head, plaintext, seg),
        count,
    )


# ------------------------------------------------------------------------------------- manifests


def manifest_fields(s: Sealed, envelope: bytes, signer: str, **changes: object) -> Json:
    """The manifest a sender would sign for ``envelope`` (hashes over the bytes as they are)."""
    fields: Json = {
        "v": 1,
        "suite": s.suite,
        "kid": KEYS[signer].kid,
        "nonce": b64url(fixed(f"{s.suite} manifest nonce", 16)),
        "batch_id": s.core["batch_id"],
        "seq": s.core["seq"],
        "sender": s.core["sender"],
        "recipient_kid": s.core["rcpt_kid"],
        "created_at": s.core["created_at"],
        "header_sha256": sha256(s.head),
        "envelope_sha256": sha256(envelope),
        "payload_sha256": sha256(s.plaintext),
        "segments": len([p for p in range(0, len(s.plaintext), s.core["seg"])]) or 1,
        "size": len(envelope),
    }
    if isinstance(fields["created_at"], int) and not 0 <= fields["created_at"] < 2**32:
        fields["created_at"] = CREATED_AT  # an out-of-range header value is the header's fault only
    return {**fields, **changes}


MANIFEST_DOMAIN = b"gwenv1 manifest\0"
RECEIPT_DOMAIN = b"gwenv1 receipt\0"


# ---------------------------------------------------------------------------------------- cases


@dataclass
class Case:
    name: str
    title: str
    expected: Json
    kind: str = "batch"
    inputs: Json = field(default_factory=dict)
    derived: Json | None = None
    allowed_suites: tuple[str, ...] | None = None
    params: dict[str, Json] = field(default_factory=dict)


def ok(s: Sealed) -> Json:
    return {
        "outcome": "ok",
        "payload_sha256": sha256(s.plaintext),
        "segments": len(s.segs),
        "batch": batch_facts(s.count),
    }


def error(code: str) -> Json:
    return {"outcome": "error", "code": code}


class Suite:
    """Case builders for one cipher suite."""

    def __init__(self, suite_id: str) -> None:
        self.id = suite_id
        self.roles = ROLES[suite_id]
        self.signer = self.roles["sign"]
        self.base = seal(suite_id)
        self.exact = seal(suite_id, label="exact", pad_to=4 * SEG, count=4)

    # ---- helpers

    def batch(
        self,
        name: str,
        title: str,
        s: Sealed,
        expected: Json,
        *,
        envelope: bytes | None = None,
        manifest: bytes | None = None,
        signer: str | None = None,
        signature: bytes | None = None,
        params: dict[str, Json] | None = None,
        allowed: tuple[str, ...] | None = None,
        derived: bool = True,
        **manifest_changes: object,
    ) -> Case:
        envelope = s.envelope if envelope is None else envelope
        signer = signer or self.signer
        params = params or {}
        if manifest is None:
            manifest = canonical(manifest_fields(s, envelope, signer, **manifest_changes))
        if signature is None:
            signature = sign(signer, MANIFEST_DOMAIN + manifest, params.get(signer))
        return Case(
            name,
            title,
            expected,
            inputs={
                "envelope_hex": envelope.hex(),
                "manifest_hex": manifest.hex(),
                "signature_hex": signature.hex(),
            },
            derived=s.derived() if derived else None,
            allowed_suites=allowed,
            params=params,
        )

    def crafted_header(self, name: str, title: str, text: bytes, code: str, **kw: Any) -> Case:
        """Other header bytes, segments under their AAD, the manifest naming those bytes."""
        return self.batch(name, title, self.base.reframed(text), error(code), derived=False, **kw)

    def header_text(self, **changes: object) -> bytes:
        return canonical({**self.base.header, **changes})

    def split(self, s: Sealed) -> tuple[bytes, list[bytes]]:
        return s.head, list(s.segs)

    # ---- the cases

    def positive(self) -> Iterator[Case]:
        yield self.batch("ok", "a valid batch of three records in three segments", self.base, ok(self.base))
        yield self.batch(
            "ok-exact-segments",
            "a payload of exactly four segments: the last is full and flagged last, no empty trailer",
            self.exact,
            ok(self.exact),
        )
        one = seal(self.id, label="one", seg=4096)
        yield self.batch("ok-one-segment", "seg = 4096: the whole payload is one segment", one, ok(one))
        empty = seal(self.id, label="empty", count=0)
        yield self.batch(
            "ok-no-records", "a batch of no records (legal: it keeps seq moving)", empty, ok(empty)
        )

    def framing(self) -> Iterator[Case]:
        s, e = self.base, self.base.envelope
        head, segs = self.split(s)
        hl = len(head)

        def broken(name: str, title: str, data: bytes, code: str, base: Sealed = s) -> Case:
            return self.batch(name, title, base, error(code), envelope=data, derived=False)

        yield broken(
            "magic-bit-flip", "one bit of the magic flipped", bytes([e[0] ^ 0x01]) + e[1:], "bad_magic"
        )
        yield broken("magic-only-five-bytes", "the stream ends inside the magic", e[:5], "bad_magic")
        yield broken("truncated-in-length", "the stream ends inside header_length", e[:9], "truncated")
        yield broken(
            "header-length-over-cap",
            "header_length = 16385, one above the cap",
            MAGIC + struct.pack(">I", 16385) + e[11:],
            "header_too_large",
        )
        yield broken(
            "header-length-plus-one",
            "header_length one too large: the header takes the first byte of segment 0",
            MAGIC + struct.pack(">I", hl - 11 + 1) + e[11:],
            "bad_header",
        )
        yield broken(
            "header-length-minus-one",
            "header_length one too small: the header loses its closing brace",
            MAGIC + struct.pack(">I", hl - 11 - 1) + e[11:],
            "bad_header",
        )
        yield broken("truncated-in-header", "the stream ends inside the header", e[: hl - 20], "truncated")
        yield broken("truncated-after-header", "no segment at all after the header", head, "truncated")
        yield broken(
            "truncated-at-segment-boundary",
            "the last segment dropped: segment 1 authenticates only as non-last and nothing follows",
            head + segs[0] + segs[1],
            "truncated",
        )
        yield broken(
            "truncated-inside-last-segment",
            "10 bytes cut from the last segment: it authenticates under neither flag",
            e[:-10],
            "segment_tampered",
        )
        yield broken(
            "truncated-inside-middle-segment",
            "the stream ends half-way through segment 1",
            head + segs[0] + segs[1][: len(segs[1]) // 2],
            "segment_tampered",
        )
        yield broken(
            "truncated-below-tag-length",
            "the stream ends 10 bytes into segment 2: shorter than a tag",
            head + segs[0] + segs[1] + segs[2][:10],
            "truncated",
        )
        yield broken(
            "segment-0-bit-flip",
            "one ciphertext bit of segment 0 flipped",
            _flip(e, hl + 100),
            "segment_tampered",
        )
        yield broken(
            "segment-1-tag-bit-flip",
            "one bit of segment 1's tag flipped",
            _flip(e, hl + len(segs[0]) + len(segs[1]) - 1),
            "segment_tampered",
        )
        yield broken(
            "last-segment-bit-flip",
            "one bit of the last segment flipped",
            _flip(e, len(e) - 30),
            "segment_tampered",
        )
        yield broken(
            "segments-swapped",
            "segments 0 and 1 in each other's place",
            head + segs[1] + segs[0] + segs[2],
            "segment_tampered",
        )
        yield broken(
            "segment-duplicated",
            "segment 0 sent twice",
            head + segs[0] + segs[0] + segs[1] + segs[2],
            "segment_tampered",
        )
        xh, xsegs = self.split(self.exact)
        yield broken(
            "last-segment-duplicated",
            "a payload of full segments with its last segment sent twice",
            xh + b"".join(xsegs) + xsegs[-1],
            "trailing_data",
            self.exact,
        )
        yield broken(
            "trailing-byte",
            "one byte after a full last segment",
            self.exact.envelope + b"\x00",
            "trailing_data",
            self.exact,
        )
        yield broken(
            "trailing-byte-after-short-segment",
            "one byte after a short last segment: the last chunk no longer authenticates",
            e + b"\x00",
            "segment_tampered",
        )
        key = payload_key(self.id, self.exact.file_key, self.exact.salt)
        padded = xh + b"".join(segments(self.id, key, xh, self.exact.plaintext, SEG, empty_last=True))
        yield self.batch(
            "empty-final-segment",
            "full segments flagged non-last, then an empty final segment",
            self.exact,
            error("bad_segment"),
            envelope=padded,
            segments=len(xsegs) + 1,
            derived=False,
        )

    def header(self) -> Iterator[Case]:
        base = self.base
        other = seal(self.id, label="other")
        yield self.batch(
            "header-from-another-envelope",
            "the header of another envelope of the same batch (other salt, file key) before these segments",
            replace(base, head=other.head, core=other.core, wrapped=other.wrapped),
            error("segment_tampered"),
            derived=False,
        )
        edited = replace(base, core={**base.core, "seq": SEQ + 1})
        edited = edited.reframed(canonical(edited.header), reencrypt=False)
        yield self.batch(
            "header-edited-seq",
            "seq changed in the header (and the manifest): "
            + (
                "HPKE's info no longer matches"
                if self.id == DEFAULT_SUITE_ID
                else "the SM3 AAD no longer matches"
            ),
            edited,
            error("unwrap_failed" if self.id == DEFAULT_SUITE_ID else "segment_tampered"),
            derived=False,
        )
        salt = base.core["salt"]
        i = next(i for i, c in enumerate(salt) if chr(ord(c) ^ 1) in _B64URL)
        flipped_salt = salt[:i] + chr(ord(salt[i]) ^ 1) + salt[i + 1 :]
        edited = replace(base, core={**base.core, "salt": flipped_salt})
        edited = edited.reframed(canonical({**base.header, "salt": flipped_salt}), reencrypt=False)
        yield self.batch(
            "header-salt-bit-flip",
            "one bit of one salt character flipped (still canonical base64url)",
            edited,
            error("unwrap_failed" if self.id == DEFAULT_SUITE_ID else "segment_tampered"),
            derived=False,
        )
        w = bytearray(base.wrapped)
        w[-1] ^= 0x01
        edited = replace(base, wrapped=bytes(w))
        yield self.batch(
            "wrapped-key-bit-flip",
            "one bit of the wrapped key flipped (segments under the new header's AAD)",
            edited.reframed(canonical(edited.header)),
            error("unwrap_failed"),
            derived=False,
        )
        stranger = seal(
            self.id, label="stranger", recipient=self.roles["enc"], wrap_to=self.roles["stranger_enc"]
        )
        yield self.batch(
            "wrapped-key-for-another-key",
            "the header names the hub's key but the file key was wrapped to another one",
            stranger,
            error("unwrap_failed"),
            derived=False,
        )
        short = (
            base.wrapped[:79]
            if self.id == DEFAULT_SUITE_ID
            else base.wrapped + bytes(257 - len(base.wrapped))
        )
        yield self.crafted_header(
            "wrapped-key-wrong-length",
            "a wrapped key of "
            + (
                "79 bytes (the suite's is 80)"
                if self.id == DEFAULT_SUITE_ID
                else "257 bytes (the suite allows 1..256)"
            ),
            self.header_text(wrapped_key=b64url(short)),
            "bad_header",
        )
        yield self.crafted_header("header-v2", "v = 2", self.header_text(v=2), "unsupported_version")
        yield self.crafted_header(
            "header-v2-other-members",
            "v = 2 with a member v1 does not know: the version is judged before the key set",
            self.header_text(v=2, ext="x"),
            "unsupported_version",
        )
        yield self.crafted_header(
            "header-v-string", 'v = "1" (a string)', self.header_text(v="1"), "bad_header"
        )
        no_v = {k: v for k, v in base.header.items() if k != "v"}
        yield self.crafted_header("header-without-v", "no v member", canonical(no_v), "bad_header")
        yield self.crafted_header(
            "header-whitespace",
            "a space after the first colon (not canonical)",
            self.header_text().replace(b'":', b'": ', 1),
            "bad_header",
        )
        reordered = json.dumps(base.header, separators=(",", ":"), ensure_ascii=False).encode()
        assert reordered != self.header_text()
        yield self.crafted_header(
            "header-key-order", "members in insertion order, not sorted", reordered, "bad_header"
        )
        yield self.crafted_header(
            "header-escaped-character",
            'content_type written with an escape ("\\u0061pplication/xml")',
            self.header_text().replace(b'"application/xml"', b'"\\u0061pplication/xml"'),
            "bad_header",
        )
        yield self.crafted_header(
            "header-duplicate-key",
            "seq twice (the same value)",
            self.header_text().replace(b'"seq":7,', b'"seq":7,"seq":7,'),
            "bad_header",
        )
        yield self.crafted_header(
            "header-float", "seq = 7.0", self.header_text().replace(b'"seq":7,', b'"seq":7.0,'), "bad_header"
        )
        yield self.crafted_header(
            "header-extra-member", "one member too many", self.header_text(note="x"), "bad_header"
        )
        missing = {k: v for k, v in base.header.items() if k != "content_type"}
        yield self.crafted_header(
            "header-missing-member", "no content_type", canonical(missing), "bad_header"
        )
        yield self.crafted_header(
            "header-padded-salt",
            "the salt base64url with its padding (==)",
            self.header_text(salt=base.core["salt"] + "=="),
            "bad_header",
        )
        s = base.core["salt"]
        bits = (
            s[:-1] + _B64URL[_B64URL.index(s[-1]) | 1]
        )  # 16 bytes leave 4 unused bits in the last character
        assert bits != s
        yield self.crafted_header(
            "header-salt-non-canonical-bits",
            "the salt's last character with an unused bit set",
            self.header_text(salt=bits),
            "bad_header",
        )
        yield self.crafted_header(
            "header-seg-not-power-of-two", "seg = 1000", self.header_text(seg=1000), "bad_header"
        )
        yield self.crafted_header(
            "header-created-at-negative", "created_at = -1", self.header_text(created_at=-1), "bad_header"
        )
        yield self.crafted_header(
            "header-created-at-2-32",
            "created_at = 2^32, one above the range",
            self.header_text(created_at=2**32),
            "bad_header",
        )
        yield self.crafted_header(
            "header-created-at-2-53",
            "created_at = 2^53, beyond JSON's exact integers",
            self.header_text(created_at=2**53),
            "bad_header",
        )
        yield self.crafted_header(
            "header-not-utf8",
            "a byte 0xff inside the batch id",
            self.header_text().replace(b'"vec-1"', b'"vec\xff1"'),
            "bad_header",
        )
        yield self.crafted_header(
            "header-kid-unknown-prefix",
            "rcpt_kid with the prefix rsa (only x25519, ed25519, sm2enc, sm2sig exist)",
            self.header_text(rcpt_kid="rsa:" + base.core["rcpt_kid"].split(":")[1]),
            "bad_header",
        )
        yield self.crafted_header(
            "header-suite-unknown",
            "the header (only) names a suite nobody implements",
            self.header_text(suite=UNKNOWN_SUITE),
            "unsupported_suite",
        )
        text = seal(self.id, label="csv", content_type="text/csv")
        yield self.batch(
            "content-type-not-accepted",
            "content_type text/csv (the receiver takes application/xml)",
            text,
            error("unsupported_content_type"),
        )
        mixed = self.base.reframed(self.header_text(seq=SEQ + 1))
        yield self.batch(
            "header-manifest-seq-differ",
            "the header says seq 8, the manifest (over these very header bytes) seq 7",
            mixed,
            error("header_mismatch"),
            derived=False,
            seq=SEQ,
        )
        yield self.batch(
            "header-sha256-differs",
            "the manifest's header_sha256 is not the header's",
            base,
            error("header_mismatch"),
            header_sha256=sha256(b"another header"),
        )

    def suites(self) -> Iterator[Case]:
        other = SM_SUITE_ID if self.id == DEFAULT_SUITE_ID else DEFAULT_SUITE_ID
        unknown = self.base.reframed(self.header_text(suite=UNKNOWN_SUITE))
        yield self.batch(
            "suite-unknown",
            "header and manifest name a suite nobody implements",
            replace(unknown, suite=UNKNOWN_SUITE),
            error("unsupported_suite"),
            derived=False,
        )
        yield self.batch(
            "suite-not-allowed",
            "a valid batch of a suite the receiver does not accept (its allow-list holds only the other)",
            self.base,
            error("unsupported_suite"),
            allowed=(other,),
        )

    def recipients(self) -> Iterator[Case]:
        other = SM_SUITE_ID if self.id == DEFAULT_SUITE_ID else DEFAULT_SUITE_ID
        for name, title, recipient in (
            (
                "recipient-kid-unknown",
                "sealed to a key the receiver has never heard of",
                self.roles["stranger_enc"],
            ),
            (
                "recipient-kid-retired",
                "sealed to the hub's key whose window closed in 2025",
                self.roles["enc_retired"],
            ),
            (
                "recipient-kid-is-signing-key",
                "rcpt_kid names the hub's receipt signing key",
                self.roles["hub_sign"],
            ),
            (
                "recipient-kid-of-other-suite",
                "rcpt_kid names the hub's encryption key of the other suite (both suites accepted)",
                self.roles["enc_other_suite"],
            ),
        ):
            s = seal(self.id, label=name, recipient=recipient)
            allowed = (self.id, other) if name == "recipient-kid-of-other-suite" else None
            yield self.batch(name, title, s, error("unknown_recipient_kid"), allowed=allowed, derived=False)

    def manifests(self) -> Iterator[Case]:
        s = self.base
        good = canonical(manifest_fields(s, s.envelope, self.signer))
        signature = sign(self.signer, MANIFEST_DOMAIN + good)
        flipped = bytearray(signature)
        flipped[5] ^= 0x01
        yield self.batch(
            "manifest-signature-bit-flip",
            "one bit of the signature flipped",
            s,
            error("bad_signature"),
            signature=bytes(flipped),
            derived=False,
        )
        yield self.batch(
            "manifest-signature-truncated",
            "the signature without its last byte",
            s,
            error("bad_signature"),
            signature=signature[:-1],
            derived=False,
        )
        yield self.batch(
            "manifest-edited-after-signing",
            "seq changed after the signature was made",
            s,
            error("bad_signature"),
            manifest=good.replace(b'"seq":7', b'"seq":8'),
            signature=signature,
            derived=False,
        )
        for name, title, signer, code in (
            (
                "manifest-kid-unknown",
                "signed by a key the receiver has never heard of",
                self.roles["stranger_sign"],
                "unknown_kid",
            ),
            (
                "manifest-signer-is-another-sender",
                "signed with city-002's registered key, for sender city-001",
                self.roles["sign_other_sender"],
                "sender_mismatch",
            ),
            (
                "manifest-signer-key-retired",
                "signed with city-001's key whose window closed in 2025",
                self.roles["sign_retired"],
                "key_not_valid",
            ),
            (
                "manifest-signed-with-other-suite-key",
                "signed with city-001's registered key of the other suite (no downgrade)",
                self.roles["sign_other_suite"],
                "wrong_key_use",
            ),
        ):
            yield self.batch(name, title, s, error(code), signer=signer, derived=False)
        yield self.batch(
            "manifest-kid-is-encryption-key",
            "the manifest's kid names the hub's encryption key",
            s,
            error("wrong_key_use"),
            kid=KEYS[self.roles["enc"]].kid,
            derived=False,
        )

        def crafted(name: str, title: str, text: bytes, code: str) -> Case:
            return self.batch(name, title, s, error(code), manifest=text, derived=False)

        yield crafted(
            "manifest-kid-unknown-prefix",
            "the manifest's kid has the prefix rsa",
            canonical(
                {
                    **manifest_fields(s, s.envelope, self.signer),
                    "kid": "rsa:" + KEYS[self.signer].kid.split(":")[1],
                }
            ),
            "bad_manifest",
        )
        yield crafted(
            "manifest-v2",
            "manifest v = 2",
            canonical({**manifest_fields(s, s.envelope, self.signer), "v": 2}),
            "unsupported_version",
        )
        yield crafted(
            "manifest-whitespace",
            "a space after the first colon",
            good.replace(b'":', b'": ', 1),
            "bad_manifest",
        )
        yield crafted(
            "manifest-duplicate-key",
            "batch_id twice",
            good.replace(b'{"batch_id"', b'{"batch_id":"vec-1","batch_id"', 1),
            "bad_manifest",
        )
        yield crafted(
            "manifest-float",
            "segments = 3.0",
            good.replace(b'"segments":3', b'"segments":3.0'),
            "bad_manifest",
        )
        nonce = manifest_fields(s, s.envelope, self.signer)["nonce"]
        yield crafted(
            "manifest-padded-nonce",
            "the nonce base64url with its padding",
            good.replace(f'"{nonce}"'.encode(), f'"{nonce}=="'.encode()),
            "bad_manifest",
        )
        for name, value, title in (
            ("manifest-created-at-negative", -1, "created_at = -1"),
            ("manifest-created-at-2-32", 2**32, "created_at = 2^32, one above the range"),
        ):
            yield crafted(
                name,
                title,
                canonical({**manifest_fields(s, s.envelope, self.signer), "created_at": value}),
                "bad_manifest",
            )
        yield crafted(
            "manifest-extra-member",
            "one member too many",
            canonical({**manifest_fields(s, s.envelope, self.signer), "note": "x"}),
            "bad_manifest",
        )
        yield crafted(
            "manifest-too-large",
            "4097 bytes (spaces after the object): above the 4096-byte cap",
            good + b" " * (4097 - len(good)),
            "bad_manifest",
        )

    def body(self) -> Iterator[Case]:
        s = self.base
        manifest = canonical(manifest_fields(s, s.envelope, self.signer))
        yield self.batch(
            "envelope-mismatch",
            "a bit flipped in transit: the body is not the envelope the manifest names",
            s,
            error("envelope_mismatch"),
            envelope=_flip(s.envelope, len(s.envelope) - 30),
            manifest=manifest,
            derived=False,
        )
        yield self.batch(
            "payload-sha256-differs",
            "the manifest's payload_sha256 is not the plaintext's",
            s,
            error("payload_mismatch"),
            payload_sha256=sha256(b"another payload"),
            derived=False,
        )
        yield self.batch(
            "segment-count-differs",
            "the manifest says four segments, the envelope has three",
            s,
            error("payload_mismatch"),
            segments=4,
            derived=False,
        )

    def sm2_encodings(self) -> Iterator[Case]:
        """SM only: every SM2 encoding the document accepts, and the refused ones (docs/protocol.md §2.1)."""
        enc, signer = self.roles["enc"], self.signer
        for layout in ("c1c3c2", "c1c2c3"):
            s = seal(self.id, label=f"layout {layout}", layout=layout)
            yield self.batch(
                f"sm2-ciphertext-{layout}",
                f"the wrapped key in the raw {layout.upper()} layout, as the hub's key entry agrees",
                s,
                ok(s),
                params={enc: {"ciphertext": layout}},
            )
        raw = {"user_id": "1234567812345678", "signature": "raw"}
        yield self.batch(
            "sm2-signature-raw",
            "the manifest signature as r ‖ s, as the sender's key entry agrees",
            self.base,
            ok(self.base),
            params={signer: raw},
        )
        other_id = {"user_id": "XZ140900@shanxi", "signature": "der"}
        yield self.batch(
            "sm2-user-id",
            "the sender's key entry agrees the user id XZ140900@shanxi (Z_A)",
            self.base,
            ok(self.base),
            params={signer: other_id},
        )
        # refused wrapped keys
        c1, c3, c2 = fr.sm2_encrypt_parts(KEYS[enc].public, self.base.file_key)

        def wrapped_case(
            name: str, title: str, wrapped: bytes, params: dict[str, Json] | None = None
        ) -> Case:
            s = replace(self.base, wrapped=wrapped)
            return self.batch(
                name,
                title,
                s.reframed(canonical(s.header)),
                error("unwrap_failed"),
                params=params,
                derived=False,
            )

        yield wrapped_case(
            "sm2-ciphertext-layout-disagrees",
            "the wrapped key in C1C2C3 while the key entry agrees C1C3C2 DER",
            c1 + c2 + c3,
        )
        yield wrapped_case(
            "sm2-ciphertext-c1c3c2-read-as-c1c2c3",
            "raw C1C3C2 while the key entry agrees C1C2C3",
            c1 + c3 + c2,
            {enc: {"ciphertext": "c1c2c3"}},
        )
        x = int.from_bytes(c1[1:33], "big")
        x_content = x.to_bytes(x.bit_length() // 8 + 1, "big")
        body = (
            fr.der(0x02, b"\x00" + x_content)
            + fr.der_uint(int.from_bytes(c1[33:], "big"))
            + fr.der(0x04, c3)
            + fr.der(0x04, c2)
        )
        yield wrapped_case(
            "sm2-ciphertext-der-non-minimal-integer",
            "x written with one leading zero too many",
            fr.der(0x30, body),
        )
        body = (
            fr.der_uint(x)
            + fr.der_uint(int.from_bytes(c1[33:], "big"))
            + b"\x04\x81\x20"
            + c3
            + fr.der(0x04, c2)
        )
        yield wrapped_case(
            "sm2-ciphertext-der-long-form-length", "C3's length in the long form (81 20)", fr.der(0x30, body)
        )
        yield wrapped_case(
            "sm2-ciphertext-der-trailing-byte",
            "a zero byte after the DER sequence",
            fr.der_ciphertext(c1, c3, c2) + b"\x00",
        )
        y = int.from_bytes(c1[33:], "big")
        compressed = bytes([2 + (y & 1)]) + c1[1:33]
        yield wrapped_case(
            "sm2-ciphertext-compressed-point",
            "raw C1C3C2 with C1 compressed (02/03 ‖ x): only 04 ‖ x ‖ y is accepted",
            compressed + c3 + c2,
            {enc: {"ciphertext": "c1c3c2"}},
        )
        off_curve = c1[:33] + ((y + 1) % fr.P).to_bytes(32, "big")
        yield wrapped_case(
            "sm2-ciphertext-point-not-on-curve",
            "C1 with y + 1: not a point of the curve",
            fr.der_ciphertext(off_curve, c3, c2),
        )
        yield wrapped_case(
            "sm2-ciphertext-c3-bit-flip",
            "one bit of C3 flipped",
            fr.der_ciphertext(c1, bytes([c3[0] ^ 1]) + c3[1:], c2),
        )
        # refused signatures
        s = self.base
        manifest = canonical(manifest_fields(s, s.envelope, signer))
        key = KEYS[signer]
        r, sv = fr.sm2_sign_rs(key.private, key.public, MANIFEST_DOMAIN + manifest, "1234567812345678")
        rs = r.to_bytes(32, "big") + sv.to_bytes(32, "big")

        def sig_case(name: str, title: str, signature: bytes, params: dict[str, Json] | None = None) -> Case:
            return self.batch(
                name,
                title,
                s,
                error("bad_signature"),
                manifest=manifest,
                signature=signature,
                params=params,
                derived=False,
            )

        yield sig_case("sm2-signature-encoding-disagrees", "r ‖ s while the key entry agrees DER", rs)
        yield sig_case(
            "sm2-signature-der-read-as-raw",
            "DER while the key entry agrees r ‖ s",
            fr.der_signature(r, sv),
            {signer: raw},
        )
        r_content = r.to_bytes(r.bit_length() // 8 + 1, "big")
        yield sig_case(
            "sm2-signature-der-non-minimal",
            "r written with one leading zero too many",
            fr.der(0x30, fr.der(0x02, b"\x00" + r_content) + fr.der_uint(sv)),
        )
        inner = fr.der_uint(r) + fr.der_uint(sv)
        yield sig_case(
            "sm2-signature-der-long-form-length",
            "the sequence length in the long form",
            b"\x30\x81" + bytes([len(inner)]) + inner,
        )
        yield sig_case(
            "sm2-signature-der-trailing-byte",
            "a zero byte after the DER sequence",
            fr.der_signature(r, sv) + b"\x00",
        )
        yield sig_case(
            "sm2-signature-s-zero", "r ‖ s with s = 0", r.to_bytes(32, "big") + bytes(32), {signer: raw}
        )
        yield sig_case(
            "sm2-signature-r-is-n",
            "r ‖ s with r = n",
            fr.N.to_bytes(32, "big") + sv.to_bytes(32, "big"),
            {signer: raw},
        )
        r2, s2 = fr.sm2_sign_rs(key.private, key.public, MANIFEST_DOMAIN + manifest, "ALICE123@YAHOO.COM")
        yield sig_case(
            "sm2-signature-other-user-id",
            "signed with user id ALICE123@YAHOO.COM while the key entry agrees the default",
            fr.der_signature(r2, s2),
        )

    # ---- receipts

    def receipts(self) -> Iterator[Case]:
        s = self.base
        manifest = canonical(manifest_fields(s, s.envelope, self.signer))
        accepted: Json = {
            "v": 1,
            "batch_id": BATCH_ID,
            "sender": SENDER,
            "envelope_sha256": sha256(s.envelope),
            "status": "accepted",
            "accepted": 3,
            "rejected": [],
            "error": None,
            "received_at": CREATED_AT + 2,
            "hub_kid": KEYS[self.roles["hub_sign"]].kid,
        }
        rejection = {
            "index": 1,
            "key": f"{AUTHORITY}|忻市监罚〔2026〕2号",
            "code": "invalid_record",
            "message": "CF_JDRQ 不是日期",
        }
        rejected: Json = {
            **accepted,
            "status": "rejected",
            "accepted": 0,
            "rejected": [rejection],
            "error": {"code": "invalid_xml", "message": "批次不符合 batch.xsd"},
        }

        def receipt(
            name: str,
            title: str,
            body: Json | bytes,
            expected: Json,
            *,
            signer: str | None = None,
            signature: bytes | None = None,
        ) -> Case:
            raw = body if isinstance(body, bytes) else canonical(body)
            if signature is None:
                signature = sign(signer or self.roles["hub_sign"], RECEIPT_DOMAIN + raw)
            return Case(
                name,
                title,
                expected,
                kind="receipt",
                inputs={
                    "manifest_hex": manifest.hex(),
                    "receipt_hex": raw.hex(),
                    "signature_hex": signature.hex(),
                },
            )

        yield receipt(
            "receipt-accepted",
            "the hub's accepted receipt for the batch",
            accepted,
            {"outcome": "ok", "status": "accepted", "accepted": 3},
        )
        yield receipt(
            "receipt-rejected",
            "a signed rejection naming one record",
            rejected,
            {"outcome": "ok", "status": "rejected", "accepted": 0, "error": "invalid_xml"},
        )
        own = self.signer
        yield receipt(
            "receipt-signed-by-the-sender",
            "signed with the sender's own key",
            {**accepted, "hub_kid": KEYS[own].kid},
            error("receipt_wrong_signer"),
            signer=own,
        )
        other = self.roles["sign_other_hub"]
        yield receipt(
            "receipt-signed-by-another-hub",
            "signed by other-hub, whose key the sender also holds",
            {**accepted, "hub_kid": KEYS[other].kid},
            error("receipt_wrong_signer"),
            signer=other,
        )
        yield receipt(
            "receipt-wrong-batch",
            "names batch vec-2",
            {**accepted, "batch_id": "vec-2"},
            error("receipt_mismatch"),
        )
        yield receipt(
            "receipt-wrong-envelope",
            "names another envelope of the batch",
            {**accepted, "envelope_sha256": sha256(b"another envelope")},
            error("receipt_mismatch"),
        )
        other_suite = self.roles["hub_sign_other_suite"]
        yield receipt(
            "receipt-wrong-suite",
            "signed with the hub's key of the other suite (no downgrade)",
            {**accepted, "hub_kid": KEYS[other_suite].kid},
            error("receipt_wrong_suite"),
            signer=other_suite,
        )
        signature = bytearray(sign(self.roles["hub_sign"], RECEIPT_DOMAIN + canonical(accepted)))
        signature[5] ^= 0x01
        yield receipt(
            "receipt-signature-bit-flip",
            "one bit of the signature flipped",
            accepted,
            error("bad_signature"),
            signature=bytes(signature),
        )
        stranger = self.roles["stranger_sign"]
        yield receipt(
            "receipt-kid-unknown",
            "signed by a key the sender does not know",
            {**accepted, "hub_kid": KEYS[stranger].kid},
            error("unknown_kid"),
            signer=stranger,
        )
        yield receipt(
            "receipt-kid-is-encryption-key",
            "hub_kid names the hub's encryption key",
            {**accepted, "hub_kid": KEYS[self.roles["enc"]].kid},
            error("wrong_key_use"),
        )
        retired = self.roles["hub_sign_retired"]
        yield receipt(
            "receipt-key-retired",
            "signed with the hub's receipt key whose window closed in 2025",
            {**accepted, "hub_kid": KEYS[retired].kid},
            error("key_not_valid"),
            signer=retired,
        )
        yield receipt("receipt-v2", "receipt v = 2", {**accepted, "v": 2}, error("unsupported_version"))
        yield receipt(
            "receipt-whitespace",
            "a space after the first colon",
            canonical(accepted).replace(b'":', b'": ', 1),
            error("bad_receipt"),
        )
        yield receipt(
            "receipt-duplicate-key",
            "status twice",
            canonical(accepted).replace(b'"status":"accepted"', b'"status":"accepted","status":"accepted"'),
            error("bad_receipt"),
        )
        yield receipt(
            "receipt-rejected-with-records",
            "rejected, yet accepted = 3",
            {**rejected, "accepted": 3},
            error("bad_receipt"),
        )
        yield receipt(
            "receipt-rejected-without-error",
            "rejected with error null",
            {**rejected, "error": None},
            error("bad_receipt"),
        )
        yield receipt(
            "receipt-accepted-with-error",
            "accepted, yet with an error",
            {**accepted, "error": {"code": "invalid_xml", "message": "x"}},
            error("bad_receipt"),
        )
        many = [{**rejection, "index": i} for i in range(1001)]
        yield receipt(
            "receipt-too-many-rejections",
            "1001 refused records (the limit is 1000)",
            {**rejected, "rejected": many},
            error("bad_receipt"),
        )

    def cases(self) -> Iterator[Case]:
        yield from self.positive()
        yield from self.framing()
        yield from self.header()
        yield from self.suites()
        yield from self.recipients()
        yield from self.manifests()
        yield from self.body()
        if self.id == SM_SUITE_ID:
            yield from self.sm2_encodings()
        yield from self.receipts()


_B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


# ------------------------------------------------------------------------------------- the files


def case_json(suite_id: str, case: Case) -> Json:
    directory = SUITE_DIRS[suite_id]
    out: Json = {
        "format": CASE_FORMAT,
        "id": f"{directory}/{case.name}",
        "suite": suite_id,
        "kind": case.kind,
        "title": case.title,
        "generated_by": GENERATOR,
    }
    if case.kind == "batch":
        out["receiver"] = {
            "party": HUB,
            "now": CREATED_AT,
            "allowed_suites": list(case.allowed_suites or (suite_id,)),
            "content_types": ["application/xml"],
            "keyring": keyring(HUB, HUB_KEYRING, case.params),
            "private_keys": {KEYS[k].kid: KEYS[k].private.hex() for k in HUB_PRIVATE},
        }
    else:
        out["receiver"] = {
            "party": SENDER,
            "hub": HUB,
            "keyring": keyring(SENDER, SENDER_KEYRING, case.params),
        }
    out["input"] = case.inputs
    if case.derived is not None:
        out["derived"] = case.derived
    out["expected"] = case.expected
    return out


def build() -> dict[str, bytes]:
    """Every case file, relative path → bytes."""
    files: dict[str, bytes] = {}
    for suite_id, directory in SUITE_DIRS.items():
        names: set[str] = set()
        for case in Suite(suite_id).cases():
            assert case.name not in names, case.name
            names.add(case.name)
            text = json.dumps(case_json(suite_id, case), ensure_ascii=False, indent=1) + "\n"
            files[f"{directory}/{case.name}.json"] = text.encode("utf-8")
    return files


def on_disk(root: Path = CASES_DIR) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.glob("*/*.json"))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only compare with the files on disk")
    args = parser.parse_args()
    files = build()
    if args.check:
        same = on_disk() == files
        print("the case files are up to date" if same else "the case files differ: run without --check")
        return 0 if same else 1
    for stale in set(on_disk()) - set(files):
        (CASES_DIR / stale).unlink()
    for rel, data in files.items():
        path = CASES_DIR / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    print(f"wrote {len(files)} case files under {CASES_DIR}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
