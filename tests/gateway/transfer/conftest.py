"""Fixtures for the transfer protocol tests: a fresh sender/hub key pair set per test."""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.transfer import Header, Keyring, Sender, generate_keys, hub_store
from gateway.transfer.keytypes import PrivateKey

SENDER = "city-001"
HUB = "shanxi-hub"


@pytest.fixture
def keys_dir(tmp_path: Path) -> Path:
    root = tmp_path / "keys"
    assert generate_keys(root, SENDER, HUB, insecure_plaintext=True) is True
    return root


@pytest.fixture
def sender(keys_dir: Path) -> Sender:
    return Sender.load(keys_dir, SENDER)


@pytest.fixture
def hub_keyring(keys_dir: Path) -> Keyring:
    return hub_store(keys_dir).load_keyring()


@pytest.fixture
def hub_private_key_for(keys_dir: Path, hub_keyring: Keyring) -> Callable[[Header], PrivateKey]:
    store = hub_store(keys_dir)

    def private_key_for(header: Header) -> PrivateKey:
        return store.load_private(hub_keyring.get(header.rcpt_kid, use="encrypt", at=header.created_at))

    return private_key_for


@pytest.fixture
def split_envelope() -> Callable[[bytes, int], tuple[bytes, list[bytes]]]:
    """Split envelope bytes into (preamble ‖ header, [segment, …]) for a given plaintext segment size."""

    def split(data: bytes, seg: int) -> tuple[bytes, list[bytes]]:
        (length,) = struct.unpack(">I", data[7:11])
        head, rest = data[: 11 + length], data[11 + length :]
        full = seg + 16
        return head, [rest[i : i + full] for i in range(0, len(rest), full)]

    return split
