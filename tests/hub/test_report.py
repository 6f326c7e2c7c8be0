from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rich.console import Console

from gateway.transfer import HubClient, HubRejected, KeyEntry, Keyring, Sealed, Sender, hub_store
from gateway.transfer.keytypes import KEY_TYPES
from hub.report import build_report, print_report
from hub.settings import Settings

from .conftest import Rec

Seal = Callable[..., tuple[Path, Sealed]]


def _register_second_sender(keys_root: Path, sender: Sender) -> Sender:
    """Register city-002 on the running hub by editing its keyring (picked up without a restart)."""
    key = Ed25519PrivateKey.generate()
    entry = KeyEntry.for_public(
        key.public_key(), KEY_TYPES["Ed25519"], owner="city-002", not_before=0, not_after=2**40
    )
    store = hub_store(keys_root)
    store.load_keyring().with_entries([entry]).save(store.keyring_path)
    hub_keys = [e for e in sender.keyring.entries if e.owner == sender.hub_id]
    return Sender("city-002", Keyring("city-002", (entry, *hub_keys)), {entry.kid: key})


def test_report_counts_batches_records_types_and_operations(
    hub_url: str, sender: Sender, keys_root: Path, seal_batch: Seal, settings: Settings
) -> None:
    other = _register_second_sender(keys_root, sender)
    with HubClient(hub_url, sender, retries=0) as client:
        client.push(*seal_batch("p-1", 1, records=[Rec("i"), Rec("i"), Rec("u"), Rec("d")]), "p-1")
        client.push(*seal_batch("l-1", 2, records=[Rec("i"), Rec("u")], record_type="admin_license"), "l-1")
        with pytest.raises(HubRejected):
            client.push(*seal_batch("bad-1", 3, records=[Rec("i", (("CF_NR_FK", "-1"),))]), "bad-1")
    with HubClient(hub_url, other, retries=0) as client:
        client.push(*seal_batch("p-2", 1, using=other, sender="city-002", records=[Rec("d")]), "p-2")

    report = build_report(settings.db_path)
    assert report["batches"] == {"total": 4, "accepted": 3, "rejected": 1}
    assert report["records"] == {"i": 3, "u": 2, "d": 2, "total": 7}
    assert report["record_types"] == {
        "admin_penalty": {"i": 2, "u": 1, "d": 2, "total": 5},
        "admin_license": {"i": 1, "u": 1, "d": 0, "total": 2},
    }
    assert report["withdrawal_reasons"] == {}  # these are the sources' own withdrawals: no reason given
    city1, city2 = report["senders"]["city-001"], report["senders"]["city-002"]
    assert city1["batches"] == {"total": 3, "accepted": 2, "rejected": 1}
    assert city1["last_seq"] == 2
    assert city1["record_types"]["admin_penalty"] == {"i": 2, "u": 1, "d": 1, "total": 4}
    assert city2["records"] == {"i": 0, "u": 0, "d": 1, "total": 1}
    assert city2["last_seq"] == 1  # sequences are per sender

    console = Console(file=io.StringIO(), width=200, record=True)
    print_report(report, console)
    text = console.export_text()
    assert "city-002" in text and "admin_license" in text and "已拒收 1" in text


def test_report_of_a_hub_that_never_ran_is_empty(tmp_path: Path) -> None:
    report = build_report(tmp_path / "nowhere" / "hub.db")
    assert report["batches"]["total"] == 0 and report["senders"] == {}
    assert not (tmp_path / "nowhere").exists()  # reading never creates a database
