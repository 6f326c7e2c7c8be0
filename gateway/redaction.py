"""Text that leaves the gateway's process (logs, alerts): what must never be in it is taken out here.

SQLAlchemy echoes a failed statement's parameters (row values: names, ID numbers) in its error messages, a
database or hub URL may carry a password, and any text may hold a resident ID number. One function, used by
the drop folder's error log and by the alerts, so that both clean the same things.
"""

from __future__ import annotations

import re

from gateway.ids.resident_id import mask_in_text

_SQL_PARAMETERS = re.compile(r"\[parameters: [^\n]*")
_URL_PASSWORD = re.compile(r"(://[^:/@\s]+):[^@\s]+@")


def redacted(text: str) -> str:
    """``text`` with SQL parameters hidden, URL passwords starred and resident ID numbers masked.

    >>> redacted("postgresql://gw:s3cret@db/gw [parameters: ('张三', '110101199003077777')]")
    'postgresql://gw:***@db/gw [parameters: hidden]'
    """
    return mask_in_text(_URL_PASSWORD.sub(r"\1:***@", _SQL_PARAMETERS.sub("[parameters: hidden]", text)))
