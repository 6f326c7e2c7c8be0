from __future__ import annotations

import base64

import pytest

from gateway.transfer import FormatError
from gateway.transfer.wire import (
    BATCH_ID_RE,
    KID_RE,
    Fields,
    b64_std_decode,
    b64url,
    b64url_decode,
    canonical_json,
    check_id,
    parse_json,
    parse_versioned,
)


def test_canonical_json_is_sorted_compact_utf8() -> None:
    raw = canonical_json({"b": 1, "a": "忻州", "c": [True, None, "x\ny"]})
    assert raw == '{"a":"忻州","b":1,"c":[true,null,"x\\ny"]}'.encode()


def test_canonical_json_matches_jcs_escaping_of_control_characters() -> None:
    # RFC 8785 §3.2.2.2: short escapes where JSON has them, lowercase \u00xx otherwise.
    assert canonical_json({"k": '\x01\x1f\t"\\'}) == b'{"k":"\\u0001\\u001f\\t\\"\\\\"}'


@pytest.mark.parametrize("value", [1.5, 2**53, float("nan"), b"bytes"])
def test_canonical_json_refuses_values_outside_the_subset(value: object) -> None:
    with pytest.raises(FormatError):
        canonical_json({"k": value})


def test_canonical_json_refuses_non_ascii_keys() -> None:
    with pytest.raises(FormatError):
        canonical_json({"键": 1})


def test_parse_json_round_trips_canonical_bytes() -> None:
    raw = canonical_json({"seq": 7, "sender": "city-001"})
    assert parse_json(raw, max_size=100, where="t") == {"seq": 7, "sender": "city-001"}


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b'{"a":1,"a":2}', "重复"),
        (b'{"a":1.0}', "小数"),
        (b'{"a":NaN}', "NaN"),
        (b'{"b":1,"a":2}', "规范化"),
        (b'{"a": 1}', "规范化"),
        (b'{"a":"\\u0041"}', "规范化"),
        (b"[1]", "对象"),
        (b"\xff", "UTF-8"),
        (b'{"a":1}' + b" " * 100, "上限"),
    ],
)
def test_parse_json_is_strict(raw: bytes, fragment: str) -> None:
    with pytest.raises(FormatError) as err:
        parse_json(raw, max_size=64, where="t")
    assert fragment in err.value.message


def test_parse_json_non_canonical_allowed_only_when_asked() -> None:
    assert parse_json(b'{ "b": 1, "a": 2 }', max_size=64, where="t", canonical=False) == {"a": 2, "b": 1}


def test_b64url_round_trip_and_strictness() -> None:
    for data in (b"", b"\x00", b"\xff\xfe", bytes(range(33))):
        assert b64url_decode(b64url(data), where="t") == data
    assert b64url(b"\xfb\xff") == "-_8"
    for bad in ("-_8=", "a+b/", "a", "-_9"):  # padding, std alphabet, impossible length, non-canonical bits
        with pytest.raises(FormatError):
            b64url_decode(bad, where="t")


def test_b64_std_decode_is_strict() -> None:
    assert b64_std_decode("AAE=", where="t", max_size=10) == b"\x00\x01"
    for bad in ("AAE", "AA E=", "AAF=", "A" * 100):
        with pytest.raises(FormatError):
            b64_std_decode(bad, where="t", max_size=10)


def test_b64_std_decode_caps_the_decoded_bytes() -> None:
    """The cap counts decoded bytes: 512 bytes pass (684 characters), 513 do not (docs/protocol.md §1)."""
    assert len(b64_std_decode(base64.b64encode(bytes(512)).decode(), where="t", max_size=512)) == 512
    with pytest.raises(FormatError):
        b64_std_decode(base64.b64encode(bytes(513)).decode(), where="t", max_size=512)  # 684 characters too
    with pytest.raises(FormatError):
        b64_std_decode("A" * 688, where="t", max_size=512)  # refused before decoding


def test_versioned_objects_report_the_version_before_their_shape() -> None:
    """A later version is unsupported_version whatever its members or serialisation (§1, §3.5)."""
    assert parse_versioned(b'{"a":1,"v":1}', max_size=64, where="t", version=1) == {"a": 1, "v": 1}
    for raw in (b'{"v":2}', b'{ "v": 2, "new": [1] }', b'{"b":1,"a":2,"v":3}'):
        with pytest.raises(FormatError) as err:
            parse_versioned(raw, max_size=64, where="t", version=1)
        assert err.value.code == "unsupported_version"
    for raw in (b'{"a":1}', b'{"v":"1"}', b'{"v":true}', b'{"v": 1}', b'{"v":1.0}'):
        with pytest.raises(FormatError) as err:
            parse_versioned(raw, max_size=64, where="t", version=1)
        assert err.value.code != "unsupported_version"


@pytest.mark.parametrize(
    ("kid", "ok"),
    [
        ("x25519:AAAAAAAAAAAAAAAA", True),
        ("ed25519:AAAAAAAAAAAAAAAA", True),
        ("sm2enc:AAAAAAAAAAAAAAAA", True),
        ("sm2sig:AAAAAAAAAAAAAAAA", True),
        ("rsa:AAAAAAAAAAAAAAAA", False),
        ("X25519:AAAAAAAAAAAAAAAA", False),
        ("x25519:AAAAAAAAAAAAAAA", False),
    ],
)
def test_a_kid_has_one_of_the_four_prefixes(kid: str, ok: bool) -> None:
    assert bool(KID_RE.fullmatch(kid)) is ok


def test_fields_demands_the_exact_key_set_and_types() -> None:
    with pytest.raises(FormatError, match="缺少"):
        Fields({"a": 1}, ("a", "b"), "t")
    with pytest.raises(FormatError, match="多余"):
        Fields({"a": 1, "z": 2}, ("a",), "t")
    fields = Fields({"n": True, "s": "x" * 10}, ("n", "s"), "t")
    with pytest.raises(FormatError):
        fields.int("n")  # a boolean is not an integer on the wire
    with pytest.raises(FormatError):
        fields.str("s", max_len=5)


@pytest.mark.parametrize("good", ["city-001", "XZ140900", "20261128-000001-admin_penalty", "a.b_c"])
def test_check_id_accepts_path_safe_ids(good: str) -> None:
    assert check_id(good, "t") == good


@pytest.mark.parametrize("bad", ["", "../x", ".hidden", "a/b", "a\\b", "批次", "x" * 65, "-lead"])
def test_check_id_refuses_unsafe_ids(bad: str) -> None:
    with pytest.raises(FormatError):
        check_id(bad, "t")


def test_batch_ids_may_be_longer_than_party_ids() -> None:
    assert check_id("b" * 128, "t", BATCH_ID_RE) == "b" * 128
    with pytest.raises(FormatError, match="128"):
        check_id("b" * 129, "t", BATCH_ID_RE)
