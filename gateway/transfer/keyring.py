"""The public keyring: which key (by kid) belongs to whom, for what use, and when it is valid.

Keys are selected by kid and checked against their validity window at the batch's ``created_at``, so
a rotation is just a second entry with an overlapping window: old batches still verify, new ones use
the new key. The file is configuration, not wire data, so it is pretty-printed for people; it is still
parsed strictly and every kid is recomputed from its public key so a mislabelled entry cannot load.

Key types with per-key agreements (SM2: user id, signature encoding, ciphertext layout) carry a
``params`` object; the others have no such member. Exporting one's public entries and importing a peer's
(provision.py) moves exactly these entries, so the agreements travel with the keys.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from gateway.transfer.errors import FormatError, KeyringError
from gateway.transfer.keytypes import (
    KeyParams,
    KeyType,
    LocalDecrypter,
    LocalSigner,
    PrivateKey,
    PublicKey,
    encryption_key_type,
    key_type,
    signing_key_type,
)
from gateway.transfer.wire import ID_RE, KID_RE, Fields, b64url, check_id, parse_json

KeyUse = Literal["encrypt", "sign"]
MAX_KEYRING_SIZE = 1 << 20
KEYRING_VERSION = 1


@dataclass(frozen=True)
class KeyEntry:
    kid: str
    kty: str
    use: KeyUse
    owner: str
    public: bytes
    not_before: int
    not_after: int
    params: KeyParams | None = None

    @property
    def key_type(self) -> KeyType:
        return key_type(self.kty)

    @property
    def effective_params(self) -> KeyParams | None:
        return self.params if self.params is not None else self.key_type.default_params()

    def public_key(self) -> PublicKey:
        return self.key_type.public_from_raw(self.public)

    def valid_at(self, at: int) -> bool:
        return self.not_before <= at <= self.not_after

    def verify(self, signature: bytes, data: bytes) -> None:
        """Raise :class:`SignatureError` unless this signing key signed ``data`` (with its own params)."""
        signing_key_type(self.kty).verify(self.public_key(), signature, data, self.effective_params)

    def encrypt(self, plaintext: bytes, info: bytes) -> bytes:
        return encryption_key_type(self.kty).encrypt(
            self.public_key(), plaintext, info, self.effective_params
        )

    def signer(self, private: PrivateKey) -> LocalSigner:
        return LocalSigner(self.kid, signing_key_type(self.kty), private, self.effective_params)

    def decrypter(self, private: PrivateKey) -> LocalDecrypter:
        return LocalDecrypter(self.kid, encryption_key_type(self.kty), private, self.effective_params)

    def same_key(self, other: KeyEntry) -> bool:
        """Same key and agreements; only the validity window may differ (a rotation shortens it)."""
        return (self.kid, self.kty, self.use, self.owner, self.public, self.effective_params) == (
            other.kid,
            other.kty,
            other.use,
            other.owner,
            other.public,
            other.effective_params,
        )

    def to_json(self) -> dict[str, object]:
        obj: dict[str, object] = {
            "kid": self.kid,
            "kty": self.kty,
            "use": self.use,
            "owner": self.owner,
            "public": b64url(self.public),
            "not_before": self.not_before,
            "not_after": self.not_after,
        }
        params = self.effective_params
        if params is not None:
            obj["params"] = params.to_json()
        return obj

    @classmethod
    def from_json(cls, obj: object) -> KeyEntry:
        if not isinstance(obj, dict):
            raise FormatError("密钥环条目必须是 JSON 对象")
        kty = obj.get("kty")
        if not isinstance(kty, str) or len(kty) > 32:
            raise FormatError("密钥环条目.kty 必须是不超过 32 个字符的字符串")
        kt = key_type(kty)
        members = ("kid", "kty", "use", "owner", "public", "not_before", "not_after")
        f = Fields(obj, (*members, "params") if kt.default_params() is not None else members, "密钥环条目")
        use = f.str("use")
        if use != kt.use:
            raise FormatError(f"密钥环条目 {f.raw('kid')!r} 的用途 {use!r} 与密钥类型 {kt.name} 不符")
        public = f.bytes("public", kt.public_length)
        entry = cls(
            kid=f.str("kid", KID_RE),
            kty=kt.name,
            use=kt.use,  # type: ignore[arg-type]
            owner=f.str("owner", ID_RE),
            public=public,
            not_before=f.int("not_before"),
            not_after=f.int("not_after"),
            params=kt.params_from_json(obj.get("params")),
        )
        if kt.kid(entry.public_key()) != entry.kid:
            raise FormatError(f"密钥环条目 {entry.kid} 的 kid 与公钥不符")
        if entry.not_after < entry.not_before:
            raise FormatError(f"密钥环条目 {entry.kid} 的有效期结束早于开始")
        return entry

    @classmethod
    def for_public(
        cls,
        public: PublicKey,
        kt: KeyType,
        *,
        owner: str,
        not_before: int,
        not_after: int,
        params: KeyParams | None = None,
    ) -> KeyEntry:
        return cls(
            kid=kt.kid(public),
            kty=kt.name,
            use=kt.use,  # type: ignore[arg-type]
            owner=check_id(owner, "密钥所有方"),
            public=kt.raw_public(public),
            not_before=not_before,
            not_after=not_after,
            params=params if params is not None else kt.default_params(),
        )


@dataclass(frozen=True)
class Keyring:
    """``party`` is who holds this keyring; its entries are its own public keys and its peers'."""

    party: str
    entries: tuple[KeyEntry, ...]

    def __post_init__(self) -> None:
        kids = [e.kid for e in self.entries]
        if len(kids) != len(set(kids)):
            raise FormatError("密钥环中有重复的 kid")

    def get(self, kid: str, *, use: KeyUse, at: int | None = None) -> KeyEntry:
        """The entry for ``kid``; with ``at``, also require it to be valid at that time."""
        for entry in self.entries:
            if entry.kid == kid:
                if entry.use != use:
                    raise KeyringError(
                        f"密钥 {kid} 的用途是 {entry.use}，不能用于 {use}", code="wrong_key_use"
                    )
                if at is not None and not entry.valid_at(at):
                    raise KeyringError(
                        f"密钥 {kid} 在 {at} 时不在有效期内（{entry.not_before}–{entry.not_after}）",
                        code="key_not_valid",
                    )
                return entry
        raise KeyringError(f"密钥环中没有 kid 为 {kid!r} 的密钥", code="unknown_kid")

    def current(self, *, owner: str, use: KeyUse, at: int, kty: str | None = None) -> KeyEntry:
        """The newest key (latest not_before) of ``owner`` valid at ``at``: the one to use for new data.

        ``kty`` narrows the choice to one algorithm when a party holds keys for several suites."""
        candidates = [
            e
            for e in self.entries
            if e.owner == owner and e.use == use and e.valid_at(at) and (kty is None or e.kty == kty)
        ]
        if not candidates:
            what = f"{kty} {use}" if kty else use
            raise KeyringError(f"{owner} 没有在 {at} 时有效的 {what} 密钥", code="no_valid_key")
        return max(candidates, key=lambda e: (e.not_before, e.kid))

    def owners(self, use: KeyUse) -> set[str]:
        return {e.owner for e in self.entries if e.use == use}

    def with_entries(self, entries: Iterable[KeyEntry]) -> Keyring:
        return Keyring(self.party, (*self.entries, *entries))

    def replacing(self, entries: Iterable[KeyEntry]) -> Keyring:
        """Entries with a known kid replace the old ones in place; others are appended."""
        new = {e.kid: e for e in entries}
        kept = tuple(new.pop(e.kid, e) for e in self.entries)
        return Keyring(self.party, (*kept, *new.values()))

    def only_owner(self, owner: str) -> Keyring:
        return Keyring(self.party, tuple(e for e in self.entries if e.owner == owner))

    def to_json(self) -> dict[str, object]:
        return {"v": KEYRING_VERSION, "party": self.party, "keys": [e.to_json() for e in self.entries]}

    @classmethod
    def from_json(cls, obj: dict[str, object]) -> Keyring:
        f = Fields(obj, ("v", "party", "keys"), "密钥环")
        if f.int("v") != KEYRING_VERSION:
            raise FormatError(f"不支持的密钥环版本 {f.raw('v')}")
        keys = f.raw("keys")
        if not isinstance(keys, list):
            raise FormatError("密钥环.keys 必须是列表")
        return cls(party=f.str("party", ID_RE), entries=tuple(KeyEntry.from_json(k) for k in keys))

    @classmethod
    def load(cls, path: Path) -> Keyring:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise KeyringError(f"无法读取密钥环 {path}：{exc.strerror}", code="keyring_missing") from exc
        return cls.from_json(parse_json(raw, max_size=MAX_KEYRING_SIZE, where="密钥环", canonical=False))

    def save(self, path: Path) -> None:
        """Write atomically so a reader never sees half a keyring."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(
            json.dumps(self.to_json(), indent=2, sort_keys=True, ensure_ascii=False) + "\n", "utf-8"
        )
        os.replace(tmp, path)
