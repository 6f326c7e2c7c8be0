"""The sending side: seal a rendered batch file into an envelope and sign its manifest."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from gateway.transfer.envelope import SEGMENT_SIZE, seal
from gateway.transfer.errors import KeyringError
from gateway.transfer.keyring import KeyEntry, Keyring
from gateway.transfer.keystore import GATEWAY_PASSPHRASE_ENV, KEYRING_FILE, KeyStore
from gateway.transfer.keytypes import PrivateKey, Signer
from gateway.transfer.manifest import Manifest, sign_manifest
from gateway.transfer.provision import GATEWAY_DIR
from gateway.transfer.suites import DEFAULT_SUITE_ID, SUITES, Suite, get_suite, resolve_suite_id
from gateway.transfer.wire import check_id


@dataclass(frozen=True)
class Sealed:
    """What the push needs besides the envelope file; the gateway archives it with the receipt."""

    manifest: bytes
    signature: bytes
    envelope_sha256: str
    size: int


class Sender:
    def __init__(
        self,
        sender_id: str,
        keyring: Keyring,
        signing_keys: Mapping[str, PrivateKey | Signer],
        *,
        suite_id: str = DEFAULT_SUITE_ID,
        segment_size: int = SEGMENT_SIZE,
    ) -> None:
        """``signing_keys``: kid → Signer (an HSM, or a local key) or a bare private key of that kid.
        ``suite_id`` is a full id or an alias (``default``, ``sm``: GATEWAY_SUITE)."""
        self.sender_id = check_id(sender_id, "发送方")
        self.keyring = keyring
        suite_id = resolve_suite_id(suite_id)
        self.suite: Suite = get_suite(suite_id, (suite_id,))
        self.segment_size = segment_size
        self._signing_keys: dict[str, Signer] = {
            kid: key if isinstance(key, Signer) else keyring.get(kid, use="sign").signer(key)
            for kid, key in signing_keys.items()
        }
        hubs = keyring.owners("encrypt") - {self.sender_id}
        if len(hubs) != 1:
            raise KeyringError(
                f"发送方密钥环须恰好包含一个接收平台的加密公钥，实际为 {sorted(hubs)}", code="no_valid_key"
            )
        (self.hub_id,) = hubs

    @classmethod
    def load(
        cls,
        keys_dir: Path,
        sender_id: str,
        *,
        suite_id: str = DEFAULT_SUITE_ID,
        passphrase: str | bytes | None = None,
    ) -> Sender:
        """``keys_dir`` is the directory given to generate_keys (with gateway/ inside) or gateway/ itself.
        ``passphrase`` overrides GATEWAY_KEY_PASSPHRASE(_FILE); only the suite's signing keys are loaded."""
        nested = keys_dir / GATEWAY_DIR
        root = nested if (nested / KEYRING_FILE).is_file() else keys_dir
        store = KeyStore.open(root, GATEWAY_PASSPHRASE_ENV, passphrase)
        keyring = store.load_keyring()
        if keyring.party != sender_id:
            raise KeyringError(f"密钥环属于 {keyring.party}，不是 {sender_id}", code="keyring_party_mismatch")
        sign_kty = get_suite(resolve_suite_id(suite_id), SUITES).sign_kty
        own = [e for e in keyring.entries if e.owner == sender_id and e.use == "sign" and e.kty == sign_kty]
        keys = {e.kid: store.signer(e) for e in own if store.has_private(e.kid)}
        if not keys:
            raise KeyringError(f"{store.root} 中没有 {sender_id} 的签名私钥", code="private_key_missing")
        return cls(sender_id, keyring, keys, suite_id=suite_id)

    def recipient(self, at: int) -> KeyEntry:
        """The hub's newest encryption key valid at ``at`` (the hub publishes its next key ahead of time)."""
        return self.keyring.current(owner=self.hub_id, use="encrypt", at=at, kty=self.suite.encrypt_kty)

    def signing_entry(self, at: int) -> KeyEntry:
        entry = self.keyring.current(owner=self.sender_id, use="sign", at=at, kty=self.suite.sign_kty)
        if entry.kid not in self._signing_keys:
            raise KeyringError(f"当前签名密钥 {entry.kid} 没有对应的私钥文件", code="private_key_missing")
        return entry

    def seal(
        self,
        src: Path,
        dst: Path,
        *,
        batch_id: str,
        seq: int,
        created_at: int | None = None,
        content_type: str = "application/xml",
    ) -> Sealed:
        """Encrypt ``src`` into ``dst`` (written atomically) and sign the manifest."""
        created_at = int(time.time()) if created_at is None else created_at
        signer = self.signing_entry(created_at)
        tmp = dst.with_name(f".{dst.name}.{uuid.uuid4().hex}.tmp")
        try:
            with src.open("rb") as fin, tmp.open("wb") as fout:
                info = seal(
                    fin,
                    fout,
                    suite=self.suite,
                    recipient=self.recipient(created_at),
                    batch_id=batch_id,
                    seq=seq,
                    sender=self.sender_id,
                    created_at=created_at,
                    content_type=content_type,
                    segment_size=self.segment_size,
                )
                fout.flush()
                os.fsync(fout.fileno())
            os.replace(tmp, dst)
        finally:
            tmp.unlink(missing_ok=True)
        manifest = Manifest.for_envelope(info, kid=signer.kid)
        raw, signature = sign_manifest(manifest, self._signing_keys[signer.kid])
        return Sealed(manifest=raw, signature=signature, envelope_sha256=info.envelope_sha256, size=info.size)
