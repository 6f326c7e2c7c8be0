"""Byte-exact encoding rules shared by the envelope header, the manifest and the receipt.

Signatures and AEAD bind *bytes*, so both ends must agree on one serialisation. The canonical form is
RFC 8785 (JCS) restricted to what the protocol needs: objects with ASCII keys, strings, integers
within ±(2^53−1), booleans, null and lists; no floats. In that subset Python's
``json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` produces exactly the JCS
bytes, so a receiver in another language can use any JCS library. Receivers additionally require the
bytes they got to *be* canonical, which removes every malleability (whitespace, key order, escapes,
duplicate keys) before a signature or hash is even looked at.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from gateway.transfer.errors import FormatError

MAX_SAFE_INT = 2**53 - 1

# Party ids and batch ids become file and directory names on the hub (received/<sender>/<batch>.xml),
# so they are restricted to a path-safe alphabet that cannot express "/", "\\" or a leading dot.
# Party ids (≤ 64) and batch ids (≤ 128) follow SenderId and BatchId of schemas/batch.xsd.
ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
BATCH_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
# A kid names its key type by one of four prefixes (docs/protocol.md §1); any other prefix is malformed,
# so a kid of an algorithm this implementation does not know is refused as a format error, never looked up.
KID_PREFIXES = ("x25519", "ed25519", "sm2enc", "sm2sig")
KID_RE = re.compile(rf"(?:{'|'.join(KID_PREFIXES)}):[A-Za-z0-9_-]{{16}}")
HEX64_RE = re.compile(r"[0-9a-f]{64}")
# created_at (header and manifest) is Unix seconds in 0..2^32−1 (up to 2106-02-07): a value a receiver in
# any language holds in an unsigned 32-bit integer; a receiver then compares it with its own clock.
MAX_CREATED_AT = 2**32 - 1

Json = dict[str, Any]


def _check_value(value: object, where: str) -> None:
    if value is None or isinstance(value, bool | str):
        return
    if isinstance(value, int):
        if not -MAX_SAFE_INT <= value <= MAX_SAFE_INT:
            raise FormatError(f"{where}：整数超出 ±(2^53−1) 范围", code="bad_format")
        return
    if isinstance(value, list | tuple):
        for item in value:
            _check_value(item, where)
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str) or not key.isascii():
                raise FormatError(f"{where}：对象的键必须是 ASCII 字符串", code="bad_format")
            _check_value(item, where)
        return
    raise FormatError(f"{where}：不允许的 JSON 值类型 {type(value).__name__}（只允许整数，不允许小数）")


def canonical_json(obj: Mapping[str, Any], *, where: str = "JSON") -> bytes:
    """Serialise ``obj`` in the protocol's canonical form (see module docstring)."""
    _check_value(obj, where)
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:  # lone surrogates cannot be sent as UTF-8
        raise FormatError(f"{where}：字符串含无法编码为 UTF-8 的字符") from exc


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise FormatError(f"JSON 对象含重复的键 {key!r}")
        out[key] = value
    return out


def _no_float(text: str) -> Any:
    raise FormatError(f"JSON 中不允许小数 {text!r}")


def _no_constant(text: str) -> Any:
    raise FormatError(f"JSON 中不允许 {text}")


def parse_json(raw: bytes, *, max_size: int, where: str, canonical: bool = True) -> Json:
    """Parse untrusted JSON strictly: size cap, UTF-8, no duplicates or floats, an object at the top.

    With ``canonical`` (the default for everything signed or hashed) the input must already be in
    canonical form, so exactly one byte string is valid for each value.
    """
    if len(raw) > max_size:
        raise FormatError(f"{where}超过 {max_size} 字节上限")
    try:
        text = raw.decode("utf-8")
        obj = json.loads(
            text, object_pairs_hook=_no_duplicates, parse_float=_no_float, parse_constant=_no_constant
        )
    except FormatError as exc:
        raise FormatError(f"{where}：{exc.message}") from exc
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise FormatError(f"{where}不是合法的 UTF-8 JSON：{exc}") from exc
    if not isinstance(obj, dict):
        raise FormatError(f"{where}必须是 JSON 对象")
    if canonical:
        check_canonical(obj, raw, where=where)
    return obj


def check_canonical(obj: Json, raw: bytes, *, where: str) -> None:
    """``raw`` must be exactly the canonical serialisation of what it parsed to."""
    if canonical_json(obj, where=where) != raw:
        raise FormatError(f"{where}不是规范化 JSON（键排序、紧凑、无多余转义）")


def parse_versioned(raw: bytes, *, max_size: int, where: str, version: int) -> Json:
    """Parse a signed or hashed object (header, manifest, receipt) in the documented order.

    Size, strict parse (UTF-8, JSON, no duplicate keys, no floats, an object), then the version, then the
    canonical form (docs/protocol.md §3.5). The version comes before the canonical form and the key set, so
    an object of another version is reported as ``unsupported_version`` whatever else it holds: a later
    version may change the key set or the serialisation, and the reader must say why it stops.
    """
    obj = parse_json(raw, max_size=max_size, where=where, canonical=False)
    if "v" not in obj:
        raise FormatError(f"{where}缺少版本字段 v")
    v = obj["v"]
    if isinstance(v, bool) or not isinstance(v, int):
        raise FormatError(f"{where}.v 必须是整数")
    if v != version:
        raise FormatError(f"不支持的{where}版本 {v}（只支持 {version}）", code="unsupported_version")
    check_canonical(obj, raw, where=where)
    return obj


def b64url(data: bytes) -> str:
    """Unpadded base64url (RFC 4648 §5), the encoding of every binary value inside JSON."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str, *, where: str) -> bytes:
    """Strict inverse of :func:`b64url`: no padding, no foreign characters, canonical trailing bits."""
    if not isinstance(text, str) or not re.fullmatch(r"[A-Za-z0-9_-]*", text) or len(text) % 4 == 1:
        raise FormatError(f"{where}不是无填充的 base64url")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise FormatError(f"{where}不是无填充的 base64url") from exc
    if b64url(data) != text:
        raise FormatError(f"{where}的 base64url 编码不规范")
    return data


def b64_std_decode(text: str, *, where: str, max_size: int) -> bytes:
    """Strict padded standard base64, used for binary values carried in HTTP headers.

    ``max_size`` caps the *decoded* bytes; text longer than the encoding of ``max_size`` bytes
    (4·⌈max_size/3⌉ characters) is refused before decoding.
    """
    if len(text) > 4 * -(-max_size // 3):
        raise FormatError(f"{where}过长（解码后不得超过 {max_size} 字节）")
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError) as exc:
        raise FormatError(f"{where}不是合法的 base64") from exc
    if base64.b64encode(data).decode("ascii") != text:
        raise FormatError(f"{where}的 base64 编码不规范")
    if len(data) > max_size:
        raise FormatError(f"{where}解码后超过 {max_size} 字节")
    return data


class Fields:
    """Typed, strict access to a parsed JSON object with an exact set of keys."""

    def __init__(self, obj: Json, keys: Iterable[str], where: str) -> None:
        expected = set(keys)
        missing = sorted(expected - obj.keys())
        extra = sorted(obj.keys() - expected)
        if missing or extra:
            raise FormatError(f"{where}字段不符：缺少 {missing}，多余 {extra}")
        self._obj = obj
        self._where = where

    def raw(self, key: str) -> Any:
        return self._obj[key]

    def int(self, key: str, lo: int = 0, hi: int = MAX_SAFE_INT) -> int:
        value = self._obj[key]
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise FormatError(f"{self._where}.{key} 必须是 {lo}..{hi} 之间的整数")
        return value

    def str(self, key: str, pattern: re.Pattern[str] | None = None, max_len: int = 256) -> str:
        value = self._obj[key]
        if not isinstance(value, str) or len(value) > max_len:
            raise FormatError(f"{self._where}.{key} 必须是不超过 {max_len} 个字符的字符串")
        if pattern is not None and not pattern.fullmatch(value):
            raise FormatError(f"{self._where}.{key} 格式不符：{value[:80]!r}")
        return value

    def bytes(self, key: str, length: int) -> bytes:
        data = b64url_decode(self._obj[key], where=f"{self._where}.{key}")
        if len(data) != length:
            raise FormatError(f"{self._where}.{key} 必须是 {length} 字节")
        return data


def check_id(value: str, what: str, pattern: re.Pattern[str] = ID_RE) -> str:
    """Refuse ids that could not travel (or would be unsafe as file names on the hub)."""
    if not isinstance(value, str) or not pattern.fullmatch(value):
        longest = 128 if pattern is BATCH_ID_RE else 64
        raise FormatError(
            f"{what} {value!r} 不合法：只允许字母、数字、点、下划线、连字符，"
            f"以字母或数字开头，最长 {longest} 位"
        )
    return value
