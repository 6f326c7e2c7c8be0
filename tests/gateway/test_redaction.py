"""What leaves the process in logs and alerts carries no passwords, row values or ID numbers."""

from __future__ import annotations

import doctest

import gateway.redaction
from gateway.redaction import redacted


def test_doctest() -> None:
    result = doctest.testmod(gateway.redaction)
    assert result.attempted > 0 and result.failed == 0


def test_every_kind_of_secret_in_one_traceback() -> None:
    text = (
        "sqlalchemy.exc.OperationalError: (psycopg.OperationalError) connection failed\n"
        "[SQL: INSERT INTO record ...]\n[parameters: {'name': '张三', 'id': '11010119900307803X'}]\n"
        "while connecting to postgresql+psycopg://gateway:pa55@10.0.0.5/gateway for 11010119900307803X"
    )
    clean = redacted(text)
    assert "pa55" not in clean and "张三" not in clean and "11010119900307803X" not in clean
    assert "[SQL: INSERT INTO record ...]" in clean  # the statement itself helps and holds no values
