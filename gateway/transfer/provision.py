"""Key provisioning: making, rotating, exporting and importing keyring entries.

In production each party makes its own private keys (:func:`generate_own`, :func:`rotate_key`) and the
parties exchange only public keyring entries (:func:`export_public` → :func:`import_public`, or the hub's
GET /v1/keys). :func:`generate_keys` short-cuts that for one machine (demo and tests): a sender and a
hub, both sides written at once.

Rotation keeps the old key: it stays valid until the new key's start plus the overlap, so batches sealed
or receipts signed just before the switch still verify, and the holder of an old encryption key keeps
decrypting what peers encrypted to it before they imported the new one. Old keys stay on disk, so a
rotation also re-encrypts the party's older private key files that are protected less than new ones
(:func:`reencrypt_keys`): a key retired today must not stay behind an earlier release's weaker KDF.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from gateway.transfer import sm
from gateway.transfer.errors import FormatError, KeyringError
from gateway.transfer.keyprotect import PRODUCTION_COST, ScryptCost
from gateway.transfer.keyring import KeyEntry, Keyring, KeyUse
from gateway.transfer.keystore import GATEWAY_PASSPHRASE_ENV, HUB_PASSPHRASE_ENV, KeyStore
from gateway.transfer.keytypes import (
    KeyParams,
    KeyType,
    PrivateKey,
    SM2EncryptParams,
    SM2SignParams,
    key_type,
)
from gateway.transfer.suites import DEFAULT_SUITE_ID, SUITES
from gateway.transfer.wire import check_id

log = logging.getLogger(__name__)

GATEWAY_DIR = "gateway"
HUB_DIR = "hub"
# Keys start an hour in the past so a peer whose clock runs a little behind still accepts them.
BACKDATE_SECONDS = 3600
DAY = 86400
SENDER_USES: tuple[KeyUse, ...] = ("sign",)
HUB_USES: tuple[KeyUse, ...] = ("encrypt", "sign")


@dataclass(frozen=True)
class SM2Options:
    """The SM2 agreements written into a party's new SM2 keyring entries (docs/protocol.md §6)."""

    user_id: str = sm.DEFAULT_USER_ID
    signature: sm.SignatureEncoding = sm.DEFAULT_SIGNATURE_ENCODING
    ciphertext: sm.CiphertextLayout = sm.DEFAULT_CIPHERTEXT_LAYOUT

    def params_for(self, kt: KeyType) -> KeyParams | None:
        if isinstance(kt.default_params(), SM2SignParams):
            return SM2SignParams(self.user_id, self.signature)
        if isinstance(kt.default_params(), SM2EncryptParams):
            return SM2EncryptParams(self.ciphertext)
        return None


def gateway_store(
    keys_dir: Path, passphrase: str | bytes | None = None, *, kdf_cost: ScryptCost = PRODUCTION_COST
) -> KeyStore:
    return KeyStore.open(keys_dir / GATEWAY_DIR, GATEWAY_PASSPHRASE_ENV, passphrase, kdf_cost=kdf_cost)


def hub_store(
    keys_dir: Path, passphrase: str | bytes | None = None, *, kdf_cost: ScryptCost = PRODUCTION_COST
) -> KeyStore:
    return KeyStore.open(keys_dir / HUB_DIR, HUB_PASSPHRASE_ENV, passphrase, kdf_cost=kdf_cost)


def suite_key_types(suite_ids: Iterable[str], uses: Iterable[KeyUse]) -> list[KeyType]:
    """The key types a party needs to take part in ``suite_ids`` in the given roles."""
    wanted = set(uses)
    types: list[KeyType] = []
    for suite_id in suite_ids:
        suite = SUITES[suite_id]
        if "encrypt" in wanted:
            types.append(key_type(suite.encrypt_kty))
        if "sign" in wanted:
            types.append(key_type(suite.sign_kty))
    return list(dict.fromkeys(types))


def create_key(
    store: KeyStore,
    kt: KeyType,
    owner: str,
    *,
    not_before: int,
    not_after: int,
    params: KeyParams | None = None,
    insecure_plaintext: bool = False,
) -> KeyEntry:
    """A new key pair: the private key is written (encrypted unless ``insecure_plaintext``)."""
    private = kt.generate()
    entry = KeyEntry.for_public(
        private.public_key(), kt, owner=owner, not_before=not_before, not_after=not_after, params=params
    )
    store.write_private(entry, private, insecure_plaintext=insecure_plaintext)
    return entry


def _load_or_new(store: KeyStore, party: str) -> Keyring:
    if not store.keyring_path.exists():
        return Keyring(party, ())
    keyring = store.load_keyring()
    if keyring.party != party:
        raise KeyringError(
            f"{store.keyring_path} 属于 {keyring.party}，不是 {party}", code="keyring_party_mismatch"
        )
    return keyring


def _missing(
    keyring: Keyring,
    store: KeyStore,
    types: Iterable[KeyType],
    *,
    now: int,
    valid_days: int,
    sm2: SM2Options,
    insecure_plaintext: bool,
) -> list[KeyEntry]:
    """Create the keys of ``types`` the party does not hold yet (no unexpired entry of that type)."""
    made = []
    for kt in types:
        if any(e.owner == keyring.party and e.kty == kt.name and e.not_after >= now for e in keyring.entries):
            continue
        made.append(
            create_key(
                store,
                kt,
                keyring.party,
                not_before=now - BACKDATE_SECONDS,
                not_after=now + valid_days * DAY,
                params=sm2.params_for(kt),
                insecure_plaintext=insecure_plaintext,
            )
        )
    return made


def _check_days(valid_days: int) -> None:
    if valid_days < 1:
        raise FormatError("密钥有效期至少 1 天")


def generate_own(
    store: KeyStore,
    party: str,
    *,
    uses: Iterable[KeyUse],
    suites: Iterable[str] = (DEFAULT_SUITE_ID,),
    valid_days: int = 365,
    sm2: SM2Options | None = None,
    insecure_plaintext: bool = False,
    now: int | None = None,
) -> list[KeyEntry]:
    """The party's own keys for ``suites`` in the roles ``uses``, made only where missing; the keyring
    is created if absent. Returns the new entries (empty when everything was there)."""
    check_id(party, "密钥所有方")
    _check_days(valid_days)
    now = int(time.time()) if now is None else now
    keyring = _load_or_new(store, party)
    made = _missing(
        keyring,
        store,
        suite_key_types(suites, uses),
        now=now,
        valid_days=valid_days,
        sm2=sm2 or SM2Options(),
        insecure_plaintext=insecure_plaintext,
    )
    if made or not store.keyring_path.exists():
        keyring.with_entries(made).save(store.keyring_path)
    return made


def generate_keys(
    keys_dir: Path,
    sender_id: str,
    hub_id: str,
    *,
    suites: Iterable[str] = (DEFAULT_SUITE_ID,),
    valid_days: int = 365,
    passphrase: str | bytes | None = None,
    hub_passphrase: str | bytes | None = None,
    insecure_plaintext: bool = False,
    sm2: SM2Options | None = None,
    kdf_cost: ScryptCost = PRODUCTION_COST,
) -> bool:
    """Create keys_dir/gateway and keys_dir/hub for ``suites``; True if anything was generated.

    gateway/: the sender's signing key per suite, plus the hub's encryption and receipt public keys.
    hub/: the hub's private keys, plus the sender's public verify keys (registration). Keys already there
    are kept, so asking for another suite later adds only its keys. ``passphrase`` / ``hub_passphrase``
    encrypt the private keys (default: GATEWAY_KEY_PASSPHRASE / HUB_KEY_PASSPHRASE, or their _FILE);
    without any, only ``insecure_plaintext`` (demo) writes clear-text keys. Keyrings are written last, so
    their presence means the set is complete. ``kdf_cost``: tests only (keyprotect.TEST_ONLY_COST).
    """
    gateway = gateway_store(keys_dir, passphrase, kdf_cost=kdf_cost)
    hub = hub_store(keys_dir, hub_passphrase, kdf_cost=kdf_cost)
    present = [gateway.keyring_path.exists(), hub.keyring_path.exists()]
    if any(present) and not all(present):
        raise KeyringError(
            f"{keys_dir} 下只有一方的密钥环，拒绝覆盖；请检查或清空该目录", code="keys_partial"
        )
    check_id(sender_id, "发送方")
    check_id(hub_id, "接收平台")
    if sender_id == hub_id:
        raise FormatError("发送方与接收平台的标识不能相同")
    _check_days(valid_days)
    suite_ids = tuple(suites)
    now = int(time.time())
    options = sm2 or SM2Options()
    gateway_ring, hub_ring = _load_or_new(gateway, sender_id), _load_or_new(hub, hub_id)

    def make(ring: Keyring, store: KeyStore, uses: tuple[KeyUse, ...]) -> Keyring:
        types = suite_key_types(suite_ids, uses)
        made = _missing(
            ring,
            store,
            types,
            now=now,
            valid_days=valid_days,
            sm2=options,
            insecure_plaintext=insecure_plaintext,
        )
        return ring.with_entries(made)

    new_gateway = make(gateway_ring, gateway, SENDER_USES)
    new_hub = make(hub_ring, hub, HUB_USES)
    new_hub = new_hub.replacing(e for e in new_gateway.entries if e.owner == sender_id)
    new_gateway = new_gateway.replacing(e for e in new_hub.entries if e.owner == hub_id)
    if all(present) and (new_gateway, new_hub) == (gateway_ring, hub_ring):
        return False
    new_hub.save(hub.keyring_path)
    new_gateway.save(gateway.keyring_path)
    return True


@dataclass(frozen=True)
class Reencrypted:
    """One private key file rewritten: its kid and how it was protected before and after."""

    kid: str
    before: str
    after: str


@dataclass(frozen=True)
class NotReencrypted:
    """An older key file a rotation could not open to re-encrypt (the rotation itself went ahead)."""

    kid: str
    code: str


@dataclass(frozen=True)
class Rotation:
    new: KeyEntry
    retired: tuple[KeyEntry, ...]
    reencrypted: tuple[Reencrypted, ...] = ()
    not_reencrypted: tuple[NotReencrypted, ...] = ()


def reencrypt_keys(
    store: KeyStore, *, new_passphrase: str | bytes | None = None, strict: bool = True
) -> tuple[tuple[Reencrypted, ...], tuple[NotReencrypted, ...]]:
    """Rewrite the party's own private key files that are protected less than ``store`` writes (an earlier
    release's PBKDF2, a lower scrypt cost, clear text), or, with ``new_passphrase``, every one of them under
    the new passphrase. Expired and retired keys included: all of them stay on disk.

    Every key is opened before any file is rewritten, so a passphrase that opens none changes nothing.
    With ``new_passphrase`` a run that was interrupted can be run again with the same two passphrases: a key
    the old one no longer opens but the new one does was already moved, and is left (or only upgraded).
    ``strict`` false (a rotation): a key that cannot be opened is reported in the second tuple and skipped.
    """
    target = (
        store
        if new_passphrase is None
        else KeyStore.open(store.root, store.passphrase_env, new_passphrase, kdf_cost=store.kdf_cost)
    )
    if target.passphrase() is None:
        raise KeyringError(
            f"重新加密私钥需要口令：请设置 {store.passphrase_env}（或 _FILE）", code="passphrase_required"
        )
    keyring = store.load_keyring()
    plan: list[tuple[KeyEntry, PrivateKey, str]] = []
    skipped: list[NotReencrypted] = []
    for entry in keyring.entries:
        if entry.owner != keyring.party or not store.has_private(entry.kid):
            continue
        try:
            before = store.protection(entry)
            if new_passphrase is None and before.at_least(store.kdf_cost):
                continue  # current: not even opened
            try:
                key, under_target = store.load_private(entry), new_passphrase is None
            except KeyringError as exc:
                if exc.code != "wrong_passphrase" or new_passphrase is None:
                    raise
                key, under_target = target.load_private(entry), True  # already under the new passphrase
        except KeyringError as exc:
            if strict:
                raise
            skipped.append(NotReencrypted(entry.kid, exc.code))
            log.warning("private key %s not re-encrypted: %s", entry.kid, exc.code)
            continue
        if under_target and before.at_least(target.kdf_cost):
            continue
        plan.append((entry, key, before.describe()))
    done = []
    for entry, key, before_text in plan:
        target.replace_private(entry, key)
        done.append(Reencrypted(entry.kid, before_text, target.protection(entry).describe()))
    return tuple(done), tuple(skipped)


def rotate_key(
    store: KeyStore,
    kty: str,
    *,
    overlap_days: int = 7,
    activate_in_seconds: int = 0,
    valid_days: int = 365,
    params: KeyParams | None = None,
    insecure_plaintext: bool = False,
    now: int | None = None,
) -> Rotation:
    """A new key pair of type ``kty`` for the keyring's own party, starting ``activate_in_seconds`` from now.

    Every unexpired older key of that type is cut to end ``overlap_days`` after the new key starts (never
    extended). The new key keeps the agreements (params) of the newest older key unless ``params`` says
    otherwise. Peers must import the new public entry (and the shortened windows): before the new key
    starts for a signing key, at any time for an encryption key (peers switch when they import it).

    Then the party's older private key files protected less than new ones are re-encrypted (best effort:
    one that does not open with the passphrase is reported in ``not_reencrypted``, and the rotation
    stands, since a rotation may be urgent). Without a passphrase (``insecure_plaintext``) nothing is.
    """
    if overlap_days < 0 or activate_in_seconds < 0:
        raise FormatError("重叠期与生效延迟不能为负")
    _check_days(valid_days)
    now = int(time.time()) if now is None else now
    keyring = store.load_keyring()
    kt = key_type(kty)
    older = [
        e for e in keyring.entries if e.owner == keyring.party and e.kty == kt.name and e.not_after >= now
    ]
    if params is None and older:
        params = max(older, key=lambda e: (e.not_before, e.kid)).effective_params
    not_before = now + activate_in_seconds
    new = create_key(
        store,
        kt,
        keyring.party,
        not_before=not_before,
        not_after=not_before + valid_days * DAY,
        params=params,
        insecure_plaintext=insecure_plaintext,
    )
    cutoff = not_before + overlap_days * DAY
    retired = tuple(
        dataclasses.replace(e, not_after=max(e.not_before, cutoff)) for e in older if e.not_after > cutoff
    )
    keyring.replacing(retired).with_entries([new]).save(store.keyring_path)
    reencrypted: tuple[Reencrypted, ...] = ()
    not_reencrypted: tuple[NotReencrypted, ...] = ()
    if store.passphrase() is not None:
        reencrypted, not_reencrypted = reencrypt_keys(store, strict=False)
    return Rotation(new, retired, reencrypted, not_reencrypted)


def export_public(store: KeyStore) -> Keyring:
    """The party's own public entries (all of them, retiring ones included): what a peer imports."""
    keyring = store.load_keyring()
    return keyring.only_owner(keyring.party)


@dataclass(frozen=True)
class ImportResult:
    peer: str
    added: tuple[KeyEntry, ...]
    updated: tuple[KeyEntry, ...]


def import_public(store: KeyStore, peer: Keyring) -> ImportResult:
    """Merge a peer's exported public entries into our keyring.

    Only entries owned by the exporting party are accepted, never one claiming to be ours. A known kid
    must be the same key with the same agreements; only its validity window is updated (a rotation
    shortens it). A keyring file that would change nothing is left untouched.
    """
    keyring = store.load_keyring()
    if peer.party == keyring.party:
        raise KeyringError(f"不能把 {peer.party} 自己的密钥作为对方公钥导入", code="import_own_keys")
    strangers = sorted({e.owner for e in peer.entries if e.owner != peer.party})
    if strangers:
        raise KeyringError(
            f"导入文件属于 {peer.party}，却含有 {strangers} 的密钥", code="import_foreign_owner"
        )
    if not peer.entries:
        raise KeyringError(f"导入文件中没有 {peer.party} 的密钥", code="import_empty")
    known = {e.kid: e for e in keyring.entries}
    added, updated = [], []
    for entry in peer.entries:
        old = known.get(entry.kid)
        if old is None:
            added.append(entry)
        elif not old.same_key(entry):
            raise KeyringError(f"密钥 {entry.kid} 与已有条目的所有方、类型或参数不符", code="import_conflict")
        elif (old.not_before, old.not_after) != (entry.not_before, entry.not_after):
            updated.append(entry)
    if added or updated:
        keyring.replacing([*updated, *added]).save(store.keyring_path)
    return ImportResult(peer.party, tuple(added), tuple(updated))
