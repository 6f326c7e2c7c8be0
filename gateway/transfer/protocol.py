"""HTTP names shared by the client and the hub, so the two cannot drift apart."""

from __future__ import annotations

BATCHES_PATH = "/v1/batches"
HEALTH_PATH = "/v1/health"
KEYS_PATH = "/v1/keys"

IDEMPOTENCY_HEADER = "Idempotency-Key"
MANIFEST_HEADER = "X-Gateway-Manifest"
SIGNATURE_HEADER = "X-Gateway-Signature"
RECEIPT_SIGNATURE_HEADER = "X-Hub-Receipt-Signature"
REPLAYED_HEADER = "X-Hub-Replayed"

ENVELOPE_MEDIA_TYPE = "application/vnd.gateway.gwenv1"
MAX_SIGNATURE_SIZE = 512
