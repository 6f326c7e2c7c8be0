"""The states of a delivery batch, and why a delivery killed at any instant loses and duplicates nothing.

::

    built ──seal──▶ sealed ──push starts──▶ sent ──signed receipt──▶ acknowledged | rejected
                      ▲                      │
                      └─ re-seal on proof ───┤ failure: wait (backoff), push again
                                             └─ too many failures / too old ──▶ dead ──retry──▶ sent
                                                                                        (or sealed, built)

Every arrow is committed to the gateway database before the step after it starts.

``built``   the XML is on disk and the outbox rows carry the batch id (one transaction, batcher.py).
``sealed``  the current envelope, manifest and signature are recorded (and kept in delivery_seal);
            this envelope has never left the gateway.
``sent``    a push of the current envelope has started: from now on the hub may hold the batch.
``acknowledged`` / ``rejected``  a receipt signed by the hub, naming this batch id and the envelope pushed,
            said so. Final.
``dead``    given up after ``DeliveryPolicy.max_attempts`` attempts or ``max_age``; reported by every run and
            by ``gateway deliveries list``; ``gateway deliveries retry`` makes it open again.

Why nothing is duplicated at the hub
    1. The hub stores a batch id at most once: ``(sender, batch_id)`` is unique in its database and is
       inserted in the same transaction as the batch's records (hub/receiving.py). A record version could
       therefore reach the hub twice only under two batch ids.
    2. An outbox row gets its batch id once, in the transaction that creates the batch, and gives it up only
       when a signed receipt says the hub refused that batch as a whole (a refusal stores nothing): at once
       for the records the receipt does not name (rejections.py), or when a person retries the refused
       batch (admin.py). A timeout, a dropped connection, a crash or an unsigned answer never releases a
       row.

Why nothing is lost
    A batch leaves the open states (built, sealed, sent) only on a verified, matching, signed receipt, or
    into ``dead``, which is loud and reversible. A rerun finds every open batch and resumes it:

    * ``built``: seal it. An envelope file left by a seal that was killed before its commit is never pushed
      (it is overwritten: the seal number it would have used is taken again).
    * ``sealed``: push it; if the envelope has become too old for the hub's window, seal it again first
      (it never left the gateway, so the hub cannot hold it).
    * ``sent``: push the very same envelope bytes again. The hub looks the batch id up before anything else
      (before freshness, nonce and sequence): a batch it holds is answered with its stored receipt, one it
      does not hold is received as new. Killed during the upload, after the hub committed, after the
      receipt arrived but before our commit, or the hub itself killed inside its commit: each ends up either
      stored once (stored receipt on the rerun) or not stored (received on the rerun).

When a batch is sealed again (same batch id)
    Only when the hub *provably* does not hold it:

    * the current envelope was never pushed (``sealed``) and is stale;
    * the hub answered, with a receipt signed by its receipt key, one of ``stale_timestamp``,
      ``replayed_nonce``, ``unknown_recipient_kid`` (same seq) or ``seq_not_increasing`` (a later seq got
      there first, which happens only after a dead batch is retried or two deliverers ran at once: the batch
      takes the next seq of the gateway's sequence and its XML is rendered again with it). The hub gives
      these answers only after looking up ``(sender, batch_id)`` and finding nothing, and they are not
      recorded, so the batch id stays free; an unsigned answer proves nothing and is treated as a failure.

    What that proof does not cover is an earlier push of the same batch that is still being processed when
    the answer is given (our process died while the hub was still decrypting a large batch). If that push
    then commits, the hub holds the batch under the earlier envelope and answers the new one with
    ``batch_conflict``. Still no duplicate (point 1), and the batch still settles: every envelope ever sealed
    is kept with its manifest (delivery_seal), and on ``batch_conflict`` the earlier ones are pushed again;
    the one the hub holds is answered with its stored receipt.

Order
    Batches are pushed in seq order, and a run stops at the first batch that does not get through (it stays
    open, or dies in this run; the rest wait for the next run), so the hub receives a record's versions in
    the order they were made. Two exceptions, both visible: a batch that died in an earlier run no longer
    holds the others back, and records sent back to the outbox after a refused batch travel in a later
    batch. Every record carries its version number for the hub to order by.
"""

from __future__ import annotations

BUILT = "built"
SEALED = "sealed"
SENT = "sent"
ACKNOWLEDGED = "acknowledged"
REJECTED = "rejected"
DEAD = "dead"

OPEN = (BUILT, SEALED, SENT)
FINAL = (ACKNOWLEDGED, REJECTED)
ALL = (*OPEN, *FINAL, DEAD)

# Signed refusals the hub gives after finding no batch with this id, without recording anything (see
# docs/protocol.md §7.2, step 3, and the module docstring): proof that it does not hold the batch.
RESEAL_CODES = frozenset({"stale_timestamp", "replayed_nonce", "unknown_recipient_kid"})
RENUMBER_CODES = frozenset({"seq_not_increasing"})
CONFLICT_CODE = "batch_conflict"
# Refusals no retry of the same batch can cure: the batch goes to dead at once, for a person to look at.
HOPELESS_CODES = frozenset({"too_large"})
NOT_STORED_CODES = RESEAL_CODES | RENUMBER_CODES | HOPELESS_CODES | {CONFLICT_CODE}
