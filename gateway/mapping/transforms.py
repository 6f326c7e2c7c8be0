"""Column transforms of the mapping stage: each one rewrites a whole Arrow string column at once.

A mapping file (data, not code) names transforms per target field; the engine looks them up here by
name. The stage must sustain hundreds of thousands of rows per second (bench/bench_transforms.py), so
no transform loops over rows in Python: each is built from pyarrow.compute kernels, or from numpy
passes over the raw UTF-8 buffer where Arrow has no kernel for the job.

Conventions every transform keeps, so the engine can chain them without special cases:

- input is any Arrow array of text (string, large_string, all-null, chunked); it is read as pa.string();
- output ``values`` are pa.string(); nulls stay null, and no transform outputs "" (it becomes null),
  so "blank" has one spelling downstream;
- a row whose input was non-blank but could not be converted is null in ``values`` and True in
  ``invalid``; ``invalid`` has no nulls, and is None for transforms that cannot fail;
- a bad *parameter* (a mapping-file mistake, not a data problem) raises ValueError at call time;
  ``validate_params`` lets the mapping loader surface it before any data arrives.
"""

from __future__ import annotations

import datetime as dt
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


@dataclass(frozen=True)
class Outcome:
    """What a transform made of a column: canonical text, plus which rows it had to give up on."""

    values: pa.Array
    invalid: pa.Array | None
    code: str = ""
    message: str = ""


Transform = Callable[..., Outcome]
Column = pa.Array | pa.ChunkedArray  # what a transform accepts; it always returns a plain pa.Array

_NULL_STRING = pa.scalar(None, pa.string())

# Every character Python calls whitespace (they all lie below U+3001), plus the invisible zero-width
# characters that arrive with text pasted from web pages and break exact matching of codes.
_SPACES = "".join(ch for ch in map(chr, range(0x3001)) if ch.isspace())
_ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"


# ---------------------------------------------------------------------------------------------------
# Shared column helpers


def _as_strings(values: Column) -> pa.StringArray:
    """Read any text column as one pa.string() array (chunked input is concatenated, once)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.chunk(0) if values.num_chunks == 1 else values.combine_chunks()
    if values.type != pa.string():
        values = values.cast(pa.string())
    return values


def _blank_to_null(arr: pa.StringArray) -> pa.StringArray:
    empty = pc.equal(arr, "")
    if not pc.any(empty).as_py():
        return arr
    return pc.if_else(empty, _NULL_STRING, arr)


def _invalid_mask(given: pa.Array, result: pa.Array) -> pa.BooleanArray:
    """True where there was something to convert but nothing came out."""
    return pc.and_(pc.is_valid(given), pc.is_null(result))


def _text_param(name: str, value: Any) -> str:
    # YAML turns unquoted 01 into 1 and yes into True; demanding a string keeps that from
    # silently changing a code.
    if not isinstance(value, str) or value == "":
        raise ValueError(f"参数 {name} 必须是非空字符串（YAML 中请加引号），实际为 {value!r}")
    return value


def _int_param(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"参数 {name} 必须是 {low}..{high} 之间的整数，实际为 {value!r}")
    return value


def _bool_param(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"参数 {name} 必须是 true 或 false，实际为 {value!r}")
    return value


# ---------------------------------------------------------------------------------------------------
# Byte-level rewriting of selected BMP characters.
#
# Arrow has no translate kernel, and the alternatives measured in bench/bench_transforms.py are either
# slow (one replace_substring pass per character: 95 passes for full-width ASCII) or wrong (NFKC also
# folds ①, ㎡ and CJK compatibility ideographs in names). So we rewrite the UTF-8 buffer with numpy:
# UTF-8 is self-synchronising, so a lead byte 0xE0-0xEF always starts a 3-byte character and a match
# can never straddle two strings; each hit shrinks to one ASCII byte (or vanishes) and the offsets are
# shifted by the number of bytes removed before them.


@dataclass(frozen=True)
class _CharTable:
    replacement: np.ndarray  # int16 per BMP code point: -1 keep, -2 delete, else the ASCII byte
    leads: tuple[int, ...]  # the lead bytes of the characters we rewrite (a handful at most)


def _char_table(mapping: Mapping[int, int | None]) -> _CharTable:
    replacement = np.full(0x10000, -1, dtype=np.int16)
    for code_point, ascii_byte in mapping.items():
        if not 0x800 <= code_point <= 0xFFFF or (ascii_byte is not None and not 0 <= ascii_byte < 0x80):
            raise ValueError(f"only 3-byte UTF-8 characters to ASCII can be rewritten: {code_point:#x}")
        replacement[code_point] = -2 if ascii_byte is None else ascii_byte
    return _CharTable(replacement, tuple(sorted({0xE0 | (cp >> 12) for cp in mapping})))


def _rewrite_chars(arr: pa.StringArray, table: _CharTable) -> pa.StringArray:
    n = len(arr)
    buffers = arr.buffers()
    if n == 0 or buffers[2] is None:
        return arr
    offsets = np.frombuffer(buffers[1], dtype=np.int32, count=n + 1, offset=arr.offset * 4)
    start = int(offsets[0])
    data = np.frombuffer(buffers[2], dtype=np.uint8)[start : int(offsets[-1])]
    if data.size < 3:
        return arr
    # Comparing with each lead byte beats a 256-entry lookup over the whole buffer by a factor of ~5.
    head = data[:-2]
    candidate = head == table.leads[0]
    for lead_byte in table.leads[1:]:
        candidate |= head == lead_byte
    lead = np.flatnonzero(candidate)
    if lead.size == 0:
        return arr
    b0 = data[lead].astype(np.int32)
    b1 = data[lead + 1].astype(np.int32)
    b2 = data[lead + 2].astype(np.int32)
    code_points = ((b0 & 0x0F) << 12) | ((b1 & 0x3F) << 6) | (b2 & 0x3F)
    replacement = table.replacement[code_points]
    # A 0xE0-0xEF lead is only a character start when both followers are continuation bytes.
    hit = (replacement != -1) & ((b1 & 0xC0) == 0x80) & ((b2 & 0xC0) == 0x80)
    pos = lead[hit]
    if pos.size == 0:
        return arr
    replacement = replacement[hit]
    keep = np.ones(data.size, dtype=bool)
    keep[pos + 1] = False
    keep[pos + 2] = False
    deleted = replacement == -2
    keep[pos[deleted]] = False
    out = data.copy()
    out[pos[~deleted]] = replacement[~deleted].astype(np.uint8)
    # Bytes removed per row (hits are few, rows many): locate each hit's row, count, accumulate.
    relative = offsets.astype(np.int64) - start
    row = np.searchsorted(relative, pos, side="right") - 1
    removed = np.bincount(row, weights=np.where(deleted, 3, 2), minlength=n).astype(np.int64)
    new_offsets = np.empty(n + 1, dtype=np.int32)
    new_offsets[0] = 0
    new_offsets[1:] = relative[1:] - np.cumsum(removed)
    validity = None if arr.null_count == 0 else pc.is_valid(arr).buffers()[1]
    return pa.Array.from_buffers(
        pa.string(), n, [validity, pa.py_buffer(new_offsets), pa.py_buffer(out[keep])], arr.null_count
    )


# Full-width ASCII U+FF01-FF5E maps to U+0021-007E and the ideographic space U+3000 to a space.
# Everything else is kept, on purpose: Chinese punctuation with no ASCII meaning (、。〔〕《》【】「」),
# ￥ and the other full-width signs U+FFE0-FFE6, half-width katakana, and ①/㎡-style symbols, which
# NFKC would fold as well.
_HALFWIDTH = _char_table({**{cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}, 0x3000: 0x20})
_ZERO_WIDTH_DELETE = _char_table(dict.fromkeys(map(ord, _ZERO_WIDTH)))


def _trimmed(arr: pa.StringArray) -> pa.StringArray:
    arr = pc.utf8_trim(arr, characters=_SPACES + _ZERO_WIDTH)
    return _blank_to_null(_rewrite_chars(arr, _ZERO_WIDTH_DELETE))


# ---------------------------------------------------------------------------------------------------
# Text transforms


def trim(values: Column) -> Outcome:
    """Strip whitespace (incl. U+3000, NBSP) and zero-width characters at both ends; blank → null.

    Zero-width characters inside the text are removed too: they are invisible to the person who
    typed them, so keeping them would only make an 18-character code 19 characters long.
    """
    return Outcome(_trimmed(_as_strings(values)), None)


def halfwidth(values: Column) -> Outcome:
    """Full-width ASCII (U+FF01-FF5E) → ASCII and U+3000 → space; all other characters unchanged.

    Meant for codes, numbers and document numbers; applied to prose it would also turn the Chinese
    comma ， into ",", which is why it is a separate, opt-in transform.
    """
    return Outcome(_blank_to_null(_rewrite_chars(_as_strings(values), _HALFWIDTH)), None)


def upper(values: Column) -> Outcome:
    return Outcome(_blank_to_null(pc.utf8_upper(_as_strings(values))), None)


def lower(values: Column) -> Outcome:
    return Outcome(_blank_to_null(pc.utf8_lower(_as_strings(values))), None)


def collapse_spaces(values: Column) -> Outcome:
    """Turn each run of whitespace (any Unicode space, incl. U+3000, NBSP, line breaks) into one space."""
    collapsed = pc.replace_substring_regex(_as_strings(values), r"[\s\v\x{85}\p{Z}]+", " ")
    return Outcome(_blank_to_null(collapsed), None)


def regex_replace(values: Column, *, pattern: str, replacement: str) -> Outcome:
    """Replace every match of an RE2 ``pattern``; a row replaced down to nothing becomes null."""
    pattern = _text_param("pattern", pattern)
    if not isinstance(replacement, str):
        raise ValueError(f"参数 replacement 必须是字符串，实际为 {replacement!r}")
    try:
        # A one-row probe: Arrow compiles the pattern only when there is a row to run it on.
        pc.replace_substring_regex(pa.array([None], pa.string()), pattern, replacement)
    except pa.ArrowInvalid as err:
        raise ValueError(f"正则表达式无效（RE2 语法）：{pattern!r}：{err}") from None
    replaced = pc.replace_substring_regex(_as_strings(values), pattern, replacement)
    return Outcome(_blank_to_null(replaced), None)


def constant(values: Column, *, value: str) -> Outcome:
    """The same text on every row, whatever the source held (e.g. the 地方编码 of the sender)."""
    value = _text_param("value", value)
    return Outcome(pa.repeat(pa.scalar(value, pa.string()), len(values)), None)


def default(values: Column, *, value: str) -> Outcome:
    """Fill blank rows (null or "") with ``value``; rows that hold something are left as they are."""
    value = _text_param("value", value)
    return Outcome(pc.coalesce(_blank_to_null(_as_strings(values)), value), None)


# ---------------------------------------------------------------------------------------------------
# Code lists

_SHOWN_CODES = 10


def codelist(values: Column, *, map: Mapping[str, str], strict: bool = True) -> Outcome:
    """Translate department codes to the national value; matching is exact, after ``trim``.

    A value that is already one of the national values (a value of ``map``) passes unchanged. With
    ``strict``, anything else is invalid; without it, unknown values pass through for a later
    schema check to judge.
    """
    if not isinstance(map, Mapping) or not map:
        raise ValueError(f"参数 map 必须是非空的映射（原值: 标准值），实际为 {map!r}")
    keys = [_text_param("map 的键", key) for key in map]
    targets = [_text_param(f"map[{key!r}]", target) for key, target in map.items()]
    strict = _bool_param("strict", strict)
    given = _trimmed(_as_strings(values))
    translated = pc.take(pa.array(targets, pa.string()), pc.index_in(given, value_set=pa.array(keys)))
    out = pc.coalesce(translated, given)
    if not strict:
        return Outcome(out, None)
    allowed = list(dict.fromkeys(targets))
    invalid = pc.and_(pc.is_valid(given), pc.invert(pc.is_in(given, value_set=pa.array(allowed + keys))))
    shown = "、".join(allowed[:_SHOWN_CODES])
    more = f" 等 {len(allowed)} 个" if len(allowed) > _SHOWN_CODES else ""
    return Outcome(
        pc.if_else(invalid, _NULL_STRING, out),
        invalid,
        "E_CODELIST",
        f"取值不在代码表中，允许的值：{shown}{more}",
    )


# ---------------------------------------------------------------------------------------------------
# Dates

_LONG_TERM_WORDS = pa.array(["长期", "永久", "长期有效"])
_DAYS_IN_MONTH = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)
# Excel counts days from 1900-01-01 = 1 and believes in 1900-02-29 (serial 60); from serial 61 on,
# serial - 25569 is the day number since 1970-01-01 (1899-12-30 is day -25569).
_EXCEL_EPOCH_SHIFT = 25569
_EXCEL_FAKE_LEAP_DAY = 60

# Year, then month and day separated by - / . (any mix) or 年 月 [日], or 8 digits; an optional time
# of day (with seconds, fraction, zone) is dropped, the date is taken as written. Written so RE2 can
# extract it in one pass (no two branches start alike): about twice as fast as the obvious pattern.
_YMD_PATTERN = (
    r"^(?P<y>\d{4})(?:[-/.年](?P<m>\d\d?)[-/.月](?P<d>\d\d?)日?|(?P<cm>\d\d)(?P<cd>\d\d))"
    r"(?:(?:\s+|T)\d\d?(?::\d\d?){1,2}(?:[.,]\d+)?\s?(?:Z|[+-]\d\d(?::?\d\d)?)?)?$"
)
# An Excel serial day number, possibly with a time-of-day fraction (dropped).
_SERIAL_PATTERN = r"^(?P<serial>\d{1,7})(?:\.\d+)?$"


def _group_ints(groups: pa.StructArray, *names: str) -> np.ndarray:
    """The digits of the named alternative groups as int64; 0 where the row did not match.

    In a matching row exactly one of the alternatives is non-empty, so joining them gives its text.
    """
    text = pc.binary_join_element_wise(*(pc.struct_field(groups, name) for name in names), "")
    return pc.cast(pc.fill_null(text, "0"), pa.int64()).to_numpy()


def _days_from_civil(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    months = (year - 1970).astype("datetime64[Y]").astype("datetime64[M]") + (month - 1)
    return (months.astype("datetime64[D]") + (day - 1)).astype(np.int64)


def _years_of(days: np.ndarray) -> np.ndarray:
    return days.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970


def _canonical_days(text: pa.StringArray) -> tuple[np.ndarray, np.ndarray]:
    """Rows already written YYYY-MM-DD, via Arrow's strptime: the cheap path most files take entirely.

    strptime rolls 2024-02-30 over to 2024-03-01 and reads 2024-3-5 too, so a row counts only when
    printing the parsed date gives back exactly its text; the others go on to the regex.
    """
    parsed = pc.cast(pc.strptime(text, format="%Y-%m-%d", unit="s", error_is_null=True), pa.date32())
    same = pc.fill_null(pc.equal(pc.cast(parsed, pa.string()), text), False)
    days = pc.fill_null(pc.cast(parsed, pa.int32()), 0).to_numpy().astype(np.int64)  # a writable copy
    return np.array(same.to_numpy(zero_copy_only=False), dtype=bool), days


def _written_days(text: pa.StringArray) -> tuple[np.ndarray, np.ndarray]:
    """Rows in any of the year-month-day spellings, checked against the calendar by arithmetic."""
    groups = pc.extract_regex(text, _YMD_PATTERN)
    matched = pc.is_valid(groups).to_numpy(zero_copy_only=False)
    year = _group_ints(groups, "y")
    month = _group_ints(groups, "m", "cm")
    day = _group_ints(groups, "d", "cd")
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_days = _DAYS_IN_MONTH[np.clip(month, 0, 12)] + (leap & (month == 2))
    ok = matched & (month >= 1) & (month <= 12) & (day >= 1) & (day <= month_days)
    # Rows that are not a real date are computed as 1970-01-01, so numpy never sees month 0.
    days = _days_from_civil(np.where(ok, year, 1970), np.where(ok, month, 1), np.where(ok, day, 1))
    return ok, days


def _serial_days(text: pa.StringArray, low: int, high: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows holding an Excel serial day number within ``low..high``."""
    found = pc.extract_regex(text, _SERIAL_PATTERN)
    number = _group_ints(found, "serial")
    ok = pc.is_valid(found).to_numpy(zero_copy_only=False)
    ok &= (number >= low) & (number <= high) & (number != _EXCEL_FAKE_LEAP_DAY)
    return ok, number - _EXCEL_EPOCH_SHIFT + (number < _EXCEL_FAKE_LEAP_DAY)


def date(
    values: Column,
    *,
    long_term: str | None = "2099-12-31",
    serial: bool = True,
    serial_min: int = 1,
    serial_max: int = 2958465,
    min_year: int = 1900,
    max_year: int = 9999,
) -> Outcome:
    """Any of the date spellings departments send → ISO ``YYYY-MM-DD``.

    Impossible dates (2024-02-30, month 13, Excel's phantom 1900-02-29) and years outside
    ``min_year..max_year`` are invalid rather than rolled over. 长期 / 永久 / 长期有效 become
    ``long_term`` (the national templates' 2099-12-31 means 长期); ``long_term: null`` makes them
    invalid. Excel serial day numbers are read only within ``serial_min..serial_max`` — a bare
    number in a date column is a serial, which is why this transform belongs on date fields only.

    Each reader sees only the rows the cheaper ones before it left over: canonical text first, then
    the other spellings, then serials.
    """
    serial = _bool_param("serial", serial)
    serial_min = _int_param("serial_min", serial_min, 1, 2958465)
    serial_max = _int_param("serial_max", serial_max, serial_min, 2958465)
    min_year = _int_param("min_year", min_year, 1000, 9999)
    max_year = _int_param("max_year", max_year, min_year, 9999)
    if long_term is not None:
        long_term = _text_param("long_term", long_term)
        try:
            if dt.date.fromisoformat(long_term).isoformat() != long_term:
                raise ValueError(long_term)
        except ValueError:
            raise ValueError(f"参数 long_term 必须是 YYYY-MM-DD 格式的日期，实际为 {long_term!r}") from None

    given = _trimmed(_as_strings(values))
    text = _rewrite_chars(given, _HALFWIDTH)
    ok, days = _canonical_days(text)
    pending = pc.is_valid(given).to_numpy(zero_copy_only=False) & ~ok
    readers = [_written_days]
    if serial:
        readers.append(lambda rows: _serial_days(rows, serial_min, serial_max))
    for reader in readers:
        rows = np.flatnonzero(pending)
        if rows.size == 0:
            break
        found, found_days = reader(text.take(pa.array(rows)))
        ok[rows] = found
        days[rows] = np.where(found, found_days, 0)
        pending[rows] = ~found
    years = _years_of(np.where(ok, days, 0))
    ok &= (years >= min_year) & (years <= max_year)

    out = pc.cast(pa.array(days.astype(np.int32), pa.date32(), mask=~ok), pa.string())
    if long_term is not None:
        out = pc.if_else(pc.is_in(given, value_set=_LONG_TERM_WORDS), long_term, out)
    return Outcome(
        out,
        _invalid_mask(given, out),
        "E_DATE",
        "日期无法识别或不存在，请使用 YYYY-MM-DD 格式（如 2024-03-05），长期有效可填“长期”",
    )


# ---------------------------------------------------------------------------------------------------
# Numbers and amounts
#
# Parsed with exact decimal arithmetic (decimal128 with 18 fraction digits), never floats. Text is
# validated by regex first, so the one cast that can fail for the whole array never sees a bad row.
# Thousands separators must group by three: "1,5" is a European decimal comma, not fifteen.
# Scientific notation is refused: a "1.23457E+11" amount has already lost digits in Excel.

_PARSE_SCALE = 18
_PARSE_TYPE = pa.decimal128(38, _PARSE_SCALE)
# One integer digit is kept free: rounding 99…9.5 up adds a digit, and pc.round does not report the
# overflow of a full-width decimal128, it wraps.
_MAX_INTEGER_DIGITS = 38 - _PARSE_SCALE - 1
# 元 → 万元 moves the point four places left; parsing at scale 18 and shifting to scale 22 leaves 16
# integer digits, so an amount may have 15, one kept free for rounding (10^15 万元 is far beyond any
# real fine).
_AMOUNT_SCALE = _PARSE_SCALE + 4
_AMOUNT_TYPE = pa.decimal128(38, _AMOUNT_SCALE)
_MAX_AMOUNT_INTEGER_DIGITS = 15
_WANYUAN_DECIMALS = 6
_PLAIN_PRINT_SCALE = 6

# The regexes only validate (a DFA match, several times faster than extracting groups); once a row is
# known to be well-formed, trimming the characters allowed around the digits leaves just the digits.
_DIGITS = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
_NUMBER_PATTERN = rf"^[+-]?{_DIGITS}$"
_NUMBER_AROUND = ("+-", " ")
_AMOUNT_PATTERN = rf"^[+-]?(?:人民币|(?i:RMB|CNY)|¥|￥)?\s*{_DIGITS}\s*(?:万元|万|元)?$"
_AMOUNT_AROUND = ("+-人民币RMBCNYrmbcny¥￥ ", " 万元")


@dataclass(frozen=True)
class _Parsed:
    text: pa.StringArray  # the input, trimmed and half-width
    number: pa.Array  # decimal128(38, 18), sign dropped; null where blank or not a number
    negative: pa.BooleanArray  # no nulls


def _parse_number(
    given: pa.StringArray, pattern: str, around: tuple[str, str], max_integer_digits: int
) -> _Parsed:
    text = _rewrite_chars(given, _HALFWIDTH)
    well_formed = pc.fill_null(pc.match_substring_regex(text, pattern), False)
    digits = pc.utf8_rtrim(pc.utf8_ltrim(text, characters=around[0]), characters=around[1])
    digits = pc.replace_substring(digits, ",", "")
    significant = pc.ascii_ltrim(digits, characters="0")
    length = pc.binary_length(significant)
    point = pc.find_substring(significant, ".")
    has_point = pc.greater_equal(point, 0)
    integer_digits = pc.if_else(has_point, point, length)
    fraction_digits = pc.if_else(has_point, pc.subtract(pc.subtract(length, point), 1), 0)
    fits = pc.and_(
        pc.less_equal(integer_digits, max_integer_digits), pc.less_equal(fraction_digits, _PARSE_SCALE)
    )
    number = pc.cast(pc.if_else(pc.and_(well_formed, fits), digits, _NULL_STRING), _PARSE_TYPE)
    negative = pc.fill_null(pc.starts_with(text, "-"), False)
    return _Parsed(text, number, negative)


def _decimal_text(number: pa.Array, decimals: int) -> pa.StringArray:
    """Round half-to-even to ``decimals`` places; print with no trailing zeros and never an exponent.

    Arrow prints decimals the way Java's BigDecimal does: plainly while the scale is at most 6, but
    0 at scale 18 comes out as "0E-18". Beyond 6 places we print the unscaled integer and put the
    point in ourselves.
    """
    rounded = pc.round(number, ndigits=decimals, round_mode="half_to_even")
    rounded = pc.cast(rounded, pa.decimal128(38, decimals))
    if decimals == 0:
        return pc.cast(rounded, pa.string())
    if decimals <= _PLAIN_PRINT_SCALE:
        return pc.utf8_rtrim(pc.utf8_rtrim(pc.cast(rounded, pa.string()), characters="0"), characters=".")
    unscaled = _with_scale(rounded, 0)
    digits = pc.utf8_lpad(pc.cast(pc.abs(unscaled), pa.string()), width=decimals + 1, padding="0")
    sign = pc.if_else(pc.less(pc.sign(unscaled), 0), "-", "")
    whole = pc.utf8_slice_codeunits(digits, 0, -decimals)
    fraction = pc.utf8_rtrim(pc.utf8_slice_codeunits(digits, -decimals), characters="0")
    point = pc.if_else(pc.equal(fraction, ""), "", ".")
    return pc.binary_join_element_wise(sign, whole, point, fraction, "")


def _with_scale(number: pa.Array, scale: int) -> pa.Array:
    """The same unscaled integers read at another scale: an exact shift of the decimal point."""
    return pa.Array.from_buffers(
        pa.decimal128(38, scale), len(number), number.buffers(), number.null_count, number.offset
    )


def _amount(values: Column, plain_unit_is_yuan: bool, message: str) -> Outcome:
    given = _trimmed(_as_strings(values))
    parsed = _parse_number(given, _AMOUNT_PATTERN, _AMOUNT_AROUND, _MAX_AMOUNT_INTEGER_DIGITS)
    in_wan = pc.or_(pc.ends_with(parsed.text, "万"), pc.ends_with(parsed.text, "万元"))
    in_yuan = pc.invert(in_wan)
    if not plain_unit_is_yuan:
        in_yuan = pc.and_(in_yuan, pc.ends_with(parsed.text, "元"))
    wanyuan = pc.if_else(
        pc.fill_null(in_yuan, False),
        _with_scale(parsed.number, _AMOUNT_SCALE),
        pc.cast(parsed.number, _AMOUNT_TYPE),
    )
    wanyuan = pc.if_else(parsed.negative, pa.scalar(None, _AMOUNT_TYPE), wanyuan)
    out = _decimal_text(wanyuan, _WANYUAN_DECIMALS)
    return Outcome(out, _invalid_mask(given, out), "E_AMOUNT", message)


def yuan_to_wanyuan(values: Column) -> Outcome:
    """An amount in 元 (as departments keep it) → 万元 (as the 双公示 templates want it).

    "12000", "12,000.00", "12000元", "￥12000", "1.2万", "1.2万元" all give "1.2": a number with no
    unit is read as 元, an explicit 元 / 万 / 万元 is always honoured. Negative or non-numeric
    amounts are invalid.

    Rounding: 万元 with at most 6 decimals is exactly the 分, so more precise input is rounded
    half-to-even at the 分 ("1,234,567.891234" 元 → "123.456789"). Rounding rather than rejecting,
    because the usual source of sub-分 digits is an Excel float ("1234.5600000000002"), whose
    intended value rounding restores; half-to-even because it does not drift upward over many rows.
    """
    return _amount(
        values,
        plain_unit_is_yuan=True,
        message="金额无法识别：请填写不小于 0 的数字，单位为元（如 12000、12,000.00、1.2万元）",
    )


def wanyuan(values: Column) -> Outcome:
    """An amount already in 万元: normalised like ``yuan_to_wanyuan`` (same rounding rule).

    A number with no unit is read as 万元; "1.2万元" is accepted; an explicit 元 is converted,
    since the unit written next to the number is better evidence than the column's header.
    """
    return _amount(
        values,
        plain_unit_is_yuan=False,
        message="金额无法识别：请填写不小于 0 的数字，单位为万元（如 1.2 或 1.2万元）",
    )


def decimal(values: Column, *, scale: int | None = None, negative: bool = True) -> Outcome:
    """A number text → canonical decimal text: "１２,０００.５０" → "12000.5", "007" → "7".

    With ``scale``, rounded half-to-even to that many decimals; without, exact (up to 18
    decimals). ``negative: false`` makes negative numbers invalid.
    """
    decimals = _PARSE_SCALE if scale is None else _int_param("scale", scale, 0, _PARSE_SCALE)
    negative = _bool_param("negative", negative)
    given = _trimmed(_as_strings(values))
    parsed = _parse_number(given, _NUMBER_PATTERN, _NUMBER_AROUND, _MAX_INTEGER_DIGITS)
    number = parsed.number
    if negative:
        number = pc.if_else(parsed.negative, pc.negate(number), number)
    else:
        number = pc.if_else(parsed.negative, pa.scalar(None, _PARSE_TYPE), number)
    out = _decimal_text(number, decimals)
    wanted = "数字" if negative else "不小于 0 的数字"
    message = f"数值无法识别：请填写{wanted}（如 1234.5）"
    return Outcome(out, _invalid_mask(given, out), "E_DECIMAL", message)


# ---------------------------------------------------------------------------------------------------
# Registry

REGISTRY: dict[str, Transform] = {
    "trim": trim,
    "halfwidth": halfwidth,
    "upper": upper,
    "lower": lower,
    "collapse_spaces": collapse_spaces,
    "regex_replace": regex_replace,
    "constant": constant,
    "default": default,
    "codelist": codelist,
    "date": date,
    "yuan_to_wanyuan": yuan_to_wanyuan,
    "wanyuan": wanyuan,
    "decimal": decimal,
}


def get_transform(name: str) -> Transform:
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"未知的转换 {name!r}；可用的转换：{', '.join(sorted(REGISTRY))}") from None


def apply(name: str, values: Column, params: Mapping[str, Any] | None = None) -> Outcome:
    """Run transform ``name`` on a whole column; a misspelt or missing parameter is a ValueError."""
    transform = get_transform(name)
    arguments = dict(params or {})
    try:
        inspect.signature(transform).bind(values, **arguments)
    except TypeError as err:
        raise ValueError(f"转换 {name} 的参数有误：{err}") from None
    return transform(values, **arguments)


def validate_params(name: str, params: Mapping[str, Any] | None = None) -> None:
    """Check a mapping file's transform step before data arrives, by running it on an empty column."""
    apply(name, pa.array([], pa.string()), params)
