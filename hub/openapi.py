"""The hub's HTTP interface described for OpenAPI: bodies, headers, status codes, mutual TLS.

The push endpoint reads its body as a raw stream and its headers by hand (FastAPI would otherwise
buffer the envelope and answer a missing header with its own 422 instead of the protocol's
``missing_header``), so nothing about them can be inferred from the function signatures. Everything
is declared here instead, next to the models of the JSON bodies; the models only document, they never
parse or serialise (gateway.transfer does that, byte-exactly). The receipt (and the Problem of a plain
error) is not modelled here at all: its schema is generated from the definition gateway.transfer.receipt
encodes and decodes with, so the published schema cannot drift from what the hub signs and the gateway
accepts. docs/hub-openapi.json is generated from this (``python -m hub openapi``) and a test fails when
the two differ.
"""

from __future__ import annotations

import inspect
import json
import re
from typing import Any, Literal

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ConfigDict, Field

from gateway.transfer.protocol import (
    ENVELOPE_MEDIA_TYPE,
    IDEMPOTENCY_HEADER,
    MANIFEST_HEADER,
    RECEIPT_SIGNATURE_HEADER,
    REPLAYED_HEADER,
    SIGNATURE_HEADER,
)
from gateway.transfer.receipt import (
    BatchReceipt,
    Choice,
    Integer,
    ListOf,
    OneOrNull,
    Problem,
    Rejection,
    Rule,
    Text,
    Version,
    wire_fields,
)
from gateway.transfer.wire import BATCH_ID_RE, ID_RE

TITLE = "省级平台参考实现（reference provincial hub）"
VERSION = "1"
SUMMARY = "接收网关推送的加密签名批次（GWENV1），验证、解密、校验、入库并返回签名回执"
DESCRIPTION = (
    "The wire format, every check and every error code are specified in docs/protocol.md; this document "
    "describes the HTTP surface. Over HTTPS the hub requires a client certificate from its client CA "
    "(TLS 1.3), and for a push the certificate's subject CN must equal the manifest's `sender`."
)
MUTUAL_TLS = "mutualTLS"

_BASE64 = r"^[A-Za-z0-9+/]+={0,2}$"


def _anchored(pattern: re.Pattern[str]) -> str:
    """The protocol's patterns match in full; a JSON Schema pattern matches anywhere unless anchored."""
    return f"^{pattern.pattern}$"


_BATCH_ID = _anchored(BATCH_ID_RE)
_PARTY_ID = _anchored(ID_RE)

# The receipt and its parts are described once, in gateway/transfer/receipt.py; their schemas are read
# from that definition (wire_fields), under the public component names of this document.
RECEIPT_COMPONENTS: dict[str, type] = {"Receipt": BatchReceipt, "Rejection": Rejection, "Problem": Problem}
RECEIPT_NOTE = (
    f"Sent as canonical JSON with the signature in {RECEIPT_SIGNATURE_HEADER}: verify the signature over "
    "the exact bytes received (docs/protocol.md §5) before reading a field."
)
ERROR_DESCRIPTION = "A plain, unsigned refusal: the hub could not (or need not) identify the sender."


def _component(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _component_ref(cls: type) -> dict[str, str]:
    (name,) = (name for name, known in RECEIPT_COMPONENTS.items() if known is cls)
    return _component(name)


def member_schema(rule: Rule) -> dict[str, Any]:
    """The JSON schema of one wire member, with exactly the limits the decoder enforces."""
    schema: dict[str, Any]
    if isinstance(rule, Version):
        schema = {"type": "integer", "const": rule.value}
    elif isinstance(rule, Integer):
        schema = {"type": "integer", "minimum": rule.lo, "maximum": rule.hi}
    elif isinstance(rule, Choice):
        schema = {"type": "string", "enum": list(rule.values)}
    elif isinstance(rule, Text):
        schema = {"type": "string", "maxLength": rule.max_len}
        if rule.pattern is not None:
            schema["pattern"] = _anchored(rule.pattern)
    elif isinstance(rule, ListOf):
        schema = {"type": "array", "items": _component_ref(rule.item)}
    elif isinstance(rule, OneOrNull):
        schema = {"anyOf": [_component_ref(rule.item), {"type": "null"}]}
    else:
        raise TypeError(f"no JSON schema for the rule {rule!r}")
    return {**schema, "description": rule.doc}


def object_schema(name: str, cls: type) -> dict[str, Any]:
    """An object with exactly the wire members of ``cls``: all required, no others allowed."""
    members = wire_fields(cls)
    description = inspect.getdoc(cls) or ""
    return {
        "title": name,
        "type": "object",
        "description": f"{description}\n\n{RECEIPT_NOTE}" if cls is BatchReceipt else description,
        "properties": {key: member_schema(rule) for key, rule in members.items()},
        "required": list(members),
        "additionalProperties": False,
    }


def receipt_schemas() -> dict[str, dict[str, Any]]:
    """The components Receipt, Rejection and Problem, and Error (a plain refusal, which holds a Problem)."""
    schemas = {name: object_schema(name, cls) for name, cls in RECEIPT_COMPONENTS.items()}
    schemas["Error"] = {
        "title": "Error",
        "type": "object",
        "description": ERROR_DESCRIPTION,
        "properties": {"error": _component_ref(Problem)},
        "required": ["error"],
        "additionalProperties": False,
    }
    return schemas


class Health(BaseModel):
    status: Literal["ok"]
    hub: str = Field(description="the hub's party id")
    time: int = Field(description="hub time, Unix seconds (compare with your clock: manifests allow 300 s)")


class KeyEntry(BaseModel):
    model_config = ConfigDict(extra="allow")

    kid: str
    kty: str = Field(description="key type, e.g. X25519 (encrypt) or Ed25519 (sign)")
    use: Literal["encrypt", "sign"]
    owner: str = Field(pattern=_PARTY_ID)
    public: str = Field(description="raw public key, base64url without padding")
    not_before: int
    not_after: int
    params: dict[str, Any] | None = Field(default=None, description="key-type parameters, when it has any")


class Keyring(BaseModel):
    """Only the hub's own public keys (docs/protocol.md §6); senders' keys are never published."""

    v: Literal[1]
    party: str = Field(pattern=_PARTY_ID)
    keys: list[KeyEntry]


def _header(description: str, pattern: str | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    if pattern is not None:
        schema["pattern"] = pattern
    return {"description": description, "schema": schema}


def _signature_headers(*, always: bool) -> dict[str, Any]:
    when = "" if always else "; present exactly when the body is a receipt"
    return {
        RECEIPT_SIGNATURE_HEADER: {
            **_header(
                f"base64 of the hub's signature over the receipt bytes (docs/protocol.md §5){when}", _BASE64
            ),
            "required": always,
        },
        REPLAYED_HEADER: _header("`true` when this is the stored answer to a batch already decided"),
    }


def _answer(description: str, schema: dict[str, Any], *, always_signed: bool) -> dict[str, Any]:
    return {
        "description": description,
        **_body(schema),
        "headers": _signature_headers(always=always_signed),
    }


RECEIPT = _component("Receipt")
ERROR = _component("Error")
_EITHER = {"oneOf": [RECEIPT, ERROR]}


PUSH_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        **_body(RECEIPT),
        "description": "accepted (new, or the stored receipt of a batch already accepted)",
        "headers": _signature_headers(always=True),
    },
    400: {
        **_body(ERROR),
        "description": "`missing_header`, `bad_manifest`, `unsupported_suite`, `idempotency_key_mismatch`",
    },
    401: {
        **_body(ERROR),
        "description": (
            "`unknown_kid`, `bad_signature`, `key_not_valid`, `wrong_key_use`, `unsupported_key_type`"
        ),
    },
    403: {
        **_body(ERROR),
        "description": (
            "`sender_mismatch` (signing key of another party); `certificate_sender_mismatch` (the client "
            "certificate's CN is not the manifest's sender); `client_certificate_required` (HTTPS "
            "without a verified client certificate)"
        ),
    },
    409: _answer(
        "signed rejection: `batch_conflict`, `replayed_nonce`, `seq_not_increasing`",
        RECEIPT,
        always_signed=True,
    ),
    408: {
        **_body(ERROR),
        "description": (
            "`request_timeout`: the head or the body did not arrive in time (`--header-timeout`, "
            "`--body-timeout`, `--body-min-rate`); the connection is closed, the push may be repeated"
        ),
    },
    413: _answer(
        "`too_large`: a signed rejection when the manifest declares the size, else a plain error",
        _EITHER,
        always_signed=False,
    ),
    422: _answer(
        "signed rejection: `stale_timestamp`, `unknown_recipient_kid`, `header_mismatch`, "
        "`unsupported_suite` (the envelope header names a suite the hub does not accept), "
        "`unsupported_content_type`, envelope codes, `payload_mismatch`, `invalid_xml` (with per-record "
        "`rejected`); plain error: `envelope_mismatch` (the body is not the envelope the manifest names)",
        _EITHER,
        always_signed=False,
    ),
    431: {
        **_body(ERROR),
        "description": "`request_header_too_large`: the request head exceeds `--max-header-size`; closed",
    },
    500: {**_body(ERROR), "description": "`internal_error` (retry later)"},
    503: {
        **_body(ERROR),
        "description": (
            "`too_many_connections`: every connection this client address (or the hub) may hold is "
            "busy with a request; sent with `Retry-After` instead of reading the request, then closed"
        ),
    },
}

PUSH_DESCRIPTION = (
    "The batch id is the idempotency key: a retry of a decided batch gets the stored answer "
    f"(`{REPLAYED_HEADER}: true`), never a second processing. Over HTTPS the client certificate's CN must "
    "equal the manifest's `sender`. Answers are a signed receipt (verify it before trusting it) or a plain "
    "error; 5xx, 429 and 408 are worth retrying, other 4xx are final for this sealed batch. An answer sent "
    "before the whole body was read carries `Connection: close`."
)

PUSH_REQUEST: dict[str, Any] = {
    "parameters": [
        {
            "name": IDEMPOTENCY_HEADER,
            "in": "header",
            "required": True,
            **_header("the batch id; must equal the manifest's batch_id", _BATCH_ID),
        },
        {
            "name": MANIFEST_HEADER,
            "in": "header",
            "required": True,
            **_header(
                "standard base64 (with padding) of the canonical manifest bytes, ≤ 4096 bytes", _BASE64
            ),
        },
        {
            "name": SIGNATURE_HEADER,
            "in": "header",
            "required": True,
            **_header("standard base64 of the detached manifest signature", _BASE64),
        },
    ],
    "requestBody": {
        "required": True,
        "description": (
            "the GWENV1 envelope, streamed; its size and SHA-256 must equal the manifest's `size` and "
            "`envelope_sha256`"
        ),
        "content": {ENVELOPE_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
    },
}

HEALTH_RESPONSES: dict[int | str, dict[str, Any]] = {200: {"model": Health, "description": "the hub runs"}}
KEYS_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": Keyring, "description": "the hub's own public keyring"}
}


def document(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document of ``app`` with the mutual-TLS security scheme (OpenAPI 3.1) applied."""
    schema = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        description=app.description,
        routes=app.routes,
    )
    components = schema.setdefault("components", {})
    components["schemas"] = dict(sorted({**components.get("schemas", {}), **receipt_schemas()}.items()))
    components["securitySchemes"] = {
        MUTUAL_TLS: {
            "type": "mutualTLS",
            "description": (
                "TLS 1.3 with a client certificate issued by the hub's client CA (EKU clientAuth); "
                "the subject CN is the sender id. Plain HTTP only on loopback with `--plain-http`."
            ),
        }
    }
    schema["security"] = [{MUTUAL_TLS: []}]
    return schema


def text(app: FastAPI) -> str:
    """What docs/hub-openapi.json holds: stable key order, UTF-8, a final newline."""
    return json.dumps(document(app), ensure_ascii=False, indent=2) + "\n"
