"""Crash points inside the reference hub, for the fault-injection tests (tests/faults/).

Setting ``HUB_FAULT`` to a point's name makes the hub kill itself with SIGKILL the first time it gets there:
no ``finally``, no rollback by Python, no answer to the client — exactly what a power cut at that
instant would leave. The points:

``during_commit``  the batch, its records and its sequence advance are written and the decrypted file is
                   published, but the transaction has not committed (SQLite rolls it back on restart);
``after_commit``   the batch is stored, its signed receipt not yet sent (the sender never hears back).

Unset (the default, and always in production) ``crash_point`` is a dictionary lookup and nothing more.
"""

from __future__ import annotations

import logging
import os
import signal

FAULT_ENV = "HUB_FAULT"
POINTS = frozenset({"during_commit", "after_commit"})

log = logging.getLogger(__name__)


def crash_point(name: str) -> None:
    """Die here, at once, if HUB_FAULT names this point."""
    if os.environ.get(FAULT_ENV) != name:
        return
    log.critical("HUB_FAULT=%s: killing the hub at this point", name)
    os.kill(os.getpid(), signal.SIGKILL)
