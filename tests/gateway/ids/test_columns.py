"""The column checks must give exactly the scalar answer for every row, however the column is laid out."""

from __future__ import annotations

import datetime
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pytest

from gateway.ids import columns, orgcode, regno, resident_id, uscc
from gateway.ids.errors import Reason


def _scalar_expectation(reason: Reason | None) -> str | None:
    """Columns leave empty input to the caller (null), exactly like valid input."""
    return None if reason is None or reason is Reason.EMPTY else reason.value


def _cases(
    uscc_samples: list[str],
    org_samples: list[str],
    regno_samples: list[str],
    resident_id_samples: list[str],
    today: datetime.date,
) -> list[tuple[str, list[str], Callable[[str], Reason | None], Callable[[pa.Array], pa.Array]]]:
    return [
        ("uscc", uscc_samples, uscc.reason, columns.check_uscc),
        ("org_code", org_samples, orgcode.reason, columns.check_org_code),
        ("regno", regno_samples, regno.reason, columns.check_regno),
        (
            "resident_id",
            resident_id_samples,
            lambda value: resident_id.reason(value, today=today),
            lambda arr: columns.check_resident_id(arr, today=today),
        ),
    ]


EXPECTED_REASONS = {
    "uscc": {None, "length", "illegal_letter", "bad_character", "check_digit"},
    "org_code": {None, "length", "bad_character", "check_digit"},
    "regno": {None, "length", "bad_character", "check_digit"},
    "resident_id": {None, "length", "bad_character", "check_digit", "birth_date"},
}


@pytest.fixture
def cases(uscc_samples, org_samples, regno_samples, resident_id_samples, today):
    return _cases(uscc_samples, org_samples, regno_samples, resident_id_samples, today)


def test_columns_agree_with_scalar_on_random_and_hostile_input(cases):
    for name, samples, scalar, column in cases:
        expected = [_scalar_expectation(scalar(value)) for value in samples]
        got = column(pa.array(samples, type=pa.string())).to_pylist()
        rows = zip(samples, expected, got, strict=True)
        mismatches = [(value, want, have) for value, want, have in rows if want != have]
        assert mismatches == [], f"{name}: {mismatches[:5]}"
        # The samples are only a meaningful test if every rule actually fires, and valid rows exist.
        assert set(expected) == EXPECTED_REASONS[name]
        assert expected.count(None) > len(samples) // 10


def test_sliced_chunked_large_and_view_columns_give_the_same_answers(cases):
    for name, samples, _scalar, column in cases:
        plain = column(pa.array(samples, type=pa.string())).to_pylist()
        with_nulls = [None, *samples, None]
        base = pa.array(with_nulls, type=pa.string())
        sliced = base.slice(1, len(samples))
        assert sliced.offset == 1
        assert column(sliced).to_pylist() == plain, name
        chunked = pa.chunked_array([base.slice(0, 777), base.slice(777, 1), base.slice(778)])
        result = column(chunked)
        assert isinstance(result, pa.ChunkedArray)
        assert [len(chunk) for chunk in result.chunks] == [777, 1, len(with_nulls) - 778]
        assert result.to_pylist() == [None, *plain, None], name
        assert column(pa.array(samples, type=pa.large_string())).to_pylist() == plain, name
        assert column(pa.array(samples, type=pa.string_view())).to_pylist() == plain, name


def test_nulls_and_empty_strings_are_left_to_the_caller():
    arr = pa.array([None, "", " - ", "\u3000", "91350100M000100Y43", "91350100M000100Y42"])
    assert columns.check_uscc(arr).to_pylist() == [None, None, None, None, None, "check_digit"]
    assert columns.check_uscc(pa.nulls(3)).to_pylist() == [None, None, None]
    assert columns.check_regno(pa.array([], type=pa.string())).to_pylist() == []


def test_valid_rows_gathered_from_non_contiguous_positions():
    """Mixed lengths force the gather path instead of the zero-copy block."""
    valid = ["91350100M000100Y43", "9144030071526726XG", "914403001922038216"]
    arr = pa.array([valid[0], "1", valid[1], None, "91350100M000100Y42", valid[2]])
    assert columns.check_uscc(arr).to_pylist() == [None, "length", None, None, "check_digit", None]


def test_null_slots_that_still_hold_bytes_are_skipped():
    """Arrow allows a null slot to span data bytes; they must neither be checked nor shift other rows."""
    text = "110108000000016 -９x110108000000017520000000005018"
    data = pa.py_buffer(text.encode("utf-8"))
    cut = [0, 15, 21, 36, 51]
    offsets = pa.py_buffer(np.array(cut, dtype=np.int32).tobytes())
    validity = pa.py_buffer(np.packbits([1, 0, 1, 1], bitorder="little").tobytes())
    arr = pa.StringArray.from_buffers(4, offsets, data, validity)
    assert arr.to_pylist() == ["110108000000016", None, "110108000000017", "520000000005018"]
    assert columns.check_regno(arr).to_pylist() == [None, None, "check_digit", None]
    assert columns.check_regno(arr.slice(1)).to_pylist() == [None, "check_digit", None]


def test_non_string_columns_are_refused():
    with pytest.raises(TypeError):
        columns.check_uscc(pa.array([1, 2, 3]))


def test_resident_id_birth_date_bounded_by_today():
    born_today = "11010520250630002"
    born_tomorrow = "11010520250701002"
    arr = pa.array(
        [
            born_today + resident_id.calc_check(born_today),
            born_tomorrow + resident_id.calc_check(born_tomorrow),
        ]
    )
    assert columns.check_resident_id(arr, today=datetime.date(2025, 6, 30)).to_pylist() == [
        None,
        "birth_date",
    ]
    assert columns.check_resident_id(arr, today=datetime.date(2025, 7, 1)).to_pylist() == [None, None]


def test_resident_id_leap_days():
    ids = []
    for date in ("20000229", "19000229", "20240229", "20230229", "19991231", "00000101"):
        body = "110105" + date + "002"
        ids.append(body + resident_id.calc_check(body))
    got = columns.check_resident_id(pa.array(ids), today=datetime.date(2025, 1, 1)).to_pylist()
    assert got == [None, "birth_date", None, "birth_date", None, "birth_date"]
    assert [_scalar_expectation(resident_id.reason(value)) for value in ids] == got


def test_mask_column_matches_scalar_mask(resident_id_samples):
    values = [*resident_id_samples, "11010519491231002X", "110105491231002", "1234567", "12345678"]
    got = columns.mask_resident_id(pa.array([*values, None])).to_pylist()
    assert got == [resident_id.mask(value) for value in values] + [None]
    assert "11010519491231002X" not in got


def test_checks_are_registered_under_the_schema_names():
    from gateway.schema.model import IdentifierCheck

    assert set(columns.CHECKS) == set(IdentifierCheck.__args__)
    arr = pa.array(["91350100M000100Y43"])
    assert columns.CHECKS["uscc"](arr).to_pylist() == [None]
