"""The one error a REST pull raises: a stable code for code and alerts, a message for the engineer on duty.

Messages are Chinese first (the platform engineers read them in the Airflow log) with the English after a
slash for the maintainers of the source system, and always name the source. They never carry secrets,
request signatures or whole response bodies.
"""

from __future__ import annotations


class SourceError(Exception):
    """A pull failed for a reason worth reading; ``code`` is one of the codes in docs/connectors.md."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"[{code}] {message}")
        self.code = code
        self.message = message


def bilingual(zh: str, en: str) -> str:
    return f"{zh} / {en}"
