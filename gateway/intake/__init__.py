"""Intake: turn a department's CSV or XLSX export into Arrow batches of strings, safely.

Typical use::

    with open_source(path) as source:       # raises ReadError for a file that cannot be used
        for batch in source.batches():      # c0..cN-1 (strings) + __row__ (spreadsheet row)
            problems = source.batch_errors  # (row, message) pairs of this batch's rows, for the validator
        source.row_error_count              # all of them; source.row_errors keeps the first 1000
"""

from gateway.intake.errors import ErrorCode, MalformedRow, ReadError
from gateway.intake.limits import DEFAULT_LIMITS, ReadLimits
from gateway.intake.shape import ROW_COLUMN, column_name
from gateway.intake.source import SourceFile, open_source

__all__ = [
    "DEFAULT_LIMITS",
    "ROW_COLUMN",
    "ErrorCode",
    "MalformedRow",
    "ReadError",
    "ReadLimits",
    "SourceFile",
    "column_name",
    "open_source",
]
