"""The assets the gateway's DAGs are scheduled on, and the watchers that turn outside events into runs.

``INBOXES``: a department dropped a file. Its watcher (connectors.inbox_trigger) runs in Airflow's
triggerer and looks at every inbox every few seconds; department_files runs on its events.
``DELIVERY_RETRY``: a failed batch's backoff is over. Its watcher (connectors.retry_trigger) reads the
delivery ledger; deliver_to_province runs on its events as well as on the outbox's.
The outbox asset, emitted by ingest and pulls when they stored something, is in gateway_common.outbox.
"""

from __future__ import annotations

from airflow.sdk import Asset, AssetWatcher

from connectors.inbox_trigger import InboxTrigger
from connectors.retry_trigger import DueRetryTrigger

INBOXES = Asset(
    name="gateway_inboxes",
    uri="x-gateway://inboxes",
    watchers=[AssetWatcher(name="gateway_inbox_watcher", trigger=InboxTrigger())],
)
DELIVERY_RETRY = Asset(
    name="gateway_delivery_retry",
    uri="x-gateway://delivery-retry",
    watchers=[AssetWatcher(name="gateway_retry_watcher", trigger=DueRetryTrigger())],
)
