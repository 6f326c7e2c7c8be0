"""Request authentication for REST sources: a bearer token, or an app-key signature over the request.

The signature (docs/connectors.md, "Request signature") is an HMAC-SHA256, keyed with the app secret, over
five lines joined by ``\\n`` (no trailing newline)::

    GET                                         the method, upper case
    /creditchina/v1/serious_dishonesty          the path as sent, percent-encoded, without the query
    pageNum=2&pageSize=50&updatedSince=2026-10-08%2009%3A00%3A00
                                                every query parameter, name and value each encoded per
                                                RFC 3986 (A-Z a-z 0-9 - _ . ~ kept, all else %XX in upper-case
                                                hex of the UTF-8 bytes), sorted by name then value, joined
                                                name=value with &; empty when there is no query
    1793242800                                  X-Timestamp: Unix time in whole seconds
    4f1c0a4e9b2d4c7e8a6f3b5d1e9c2a70            X-Nonce: 32 lower-case hex characters, new for every request

and is sent as lower-case hex (or standard base64 when the connection's extras say
``"signature_encoding": "base64"``) in ``X-Signature``, with ``X-App-Key``, ``X-Timestamp`` and ``X-Nonce``.
The connector sends exactly the query it signed (it builds the URL itself), so the server can rebuild the
same string from what it receives. Each retry is signed afresh: a server that caches nonces would refuse a
replayed one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Sequence
from urllib.parse import quote

from connectors.rest_api_config import ApiConfig

UNRESERVED = "-_.~"


def encode(text: str) -> str:
    return quote(text, safe=UNRESERVED)


def canonical_query(params: Sequence[tuple[str, str]]) -> str:
    return "&".join(f"{k}={v}" for k, v in sorted((encode(k), encode(v)) for k, v in params))


def string_to_sign(method: str, path: str, query: str, timestamp: str, nonce: str) -> str:
    return "\n".join([method.upper(), path, query, timestamp, nonce])


def sign(secret: str, message: str, encoding: str = "hex") -> str:
    digest = hmac.new(secret.encode("utf-8"), message.encode("utf-8"), hashlib.sha256)
    return digest.hexdigest() if encoding == "hex" else base64.b64encode(digest.digest()).decode("ascii")


def auth_headers(
    config: ApiConfig,
    method: str,
    path: str,
    query: str,
    *,
    clock: Callable[[], float] = time.time,
    nonce: Callable[[], str] = lambda: secrets.token_hex(16),
) -> dict[str, str]:
    """The headers that authenticate one request (none for an open source)."""
    if config.auth == "token":
        return {"Authorization": f"Bearer {config.secret}"}
    if config.auth == "signature":
        assert config.app_key is not None and config.secret is not None  # checked by api_config
        timestamp, once = str(int(clock())), nonce()
        message = string_to_sign(method, path, query, timestamp, once)
        return {
            "X-App-Key": config.app_key,
            "X-Timestamp": timestamp,
            "X-Nonce": once,
            "X-Signature": sign(config.secret, message, config.signature_encoding),
        }
    return {}
