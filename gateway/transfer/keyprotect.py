"""How private keys are protected at rest: the passphrase KDF's cost, and what a key file says about itself.

Both suites' key files are encrypted under a key derived from the party's passphrase with scrypt (RFC 7914)
at one cost, :data:`PRODUCTION_COST`: N = 2^14, r = 8, p = 5. That is one of the equivalent scrypt settings
of the OWASP Password Storage Cheat Sheet (N = 2^17, r = 8, p = 1 and N = 2^14, r = 8, p = 5 cost the same
work; https://cheatsheetseries.owasp.org/cheatsheets/Password_Storage_Cheat_Sheet.html#scrypt). The smaller
N is chosen so OpenSSL 3 still reads the PKCS#8 files: its PBES2 scrypt path refuses more than 32 MiB of
memory (``EVP_PBE_scrypt`` default ``maxmem``; ``openssl pkcs8`` fails with "memory limit exceeded" at
N = 2^17, r = 8), and 128·r·N at N = 2^14, r = 8 is 16 MiB.

A :class:`ScryptCost` is what a key store *writes* with. A cost below the production floor exists for the
test suite only (each scrypt at production cost takes a noticeable fraction of a second, and tests make
and open many keys): it must be spelled ``test_only=True`` in code, nothing in the settings or the command
line can choose it, every key written with it is logged as a warning, and a file protected below the
production cost is reported by ``gateway keys list`` and rewritten by ``gateway keys reencrypt`` and by a
rotation. What a file was written with is read from the file itself (:class:`Protection`), so opening a key
never depends on the store's cost.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

# Bounds on what a key file may ask for, so a damaged or hostile file cannot make a load take minutes or
# gigabytes: at most 256 MiB of scrypt memory, and 10 million PBKDF2 rounds (legacy files).
MAX_SCRYPT_MEMORY = 256 << 20
MAX_SCRYPT_P = 16
MAX_PBKDF2_ROUNDS = 10_000_000


class KeyFileError(ValueError):
    """A private key file that does not open; the subclass says why, never with secret material."""


class WrongPassphrase(KeyFileError):
    """The passphrase does not open the file. ``certain`` is false for formats that cannot tell a wrong
    passphrase from a damaged ciphertext (PKCS#8 PBES2 has no integrity check; the old SM2 format none
    apart from the GCM tag)."""

    def __init__(self, *, certain: bool) -> None:
        super().__init__("wrong passphrase")
        self.certain = certain


class DamagedKeyFile(KeyFileError):
    """The file's structure is not a key file this code reads, or it was altered (a tag failed after the
    passphrase was verified); the message says which part."""


def scrypt_memory(n: int, r: int) -> int:
    """Bytes scrypt's large array takes (128·r·N, RFC 7914 §5)."""
    return 128 * r * n


def check_scrypt_params(n: int, r: int, p: int) -> None:
    """Refuse parameters scrypt does not define (N a power of two above 1) or that exceed our bounds."""
    if n < 2 or n & (n - 1):
        raise DamagedKeyFile(f"scrypt N={n} is not a power of two greater than 1")
    if not 1 <= r <= 64 or not 1 <= p <= MAX_SCRYPT_P:
        raise DamagedKeyFile(f"scrypt r={r}, p={p} out of range (r 1..64, p 1..{MAX_SCRYPT_P})")
    if scrypt_memory(n, r) > MAX_SCRYPT_MEMORY:
        raise DamagedKeyFile(f"scrypt N={n}, r={r} needs more than {MAX_SCRYPT_MEMORY >> 20} MiB")


@dataclass(frozen=True)
class ScryptCost:
    """The scrypt parameters a key store writes new key files with."""

    n: int
    r: int
    p: int
    test_only: bool = False

    def __post_init__(self) -> None:
        try:
            check_scrypt_params(self.n, self.r, self.p)
        except DamagedKeyFile as exc:
            raise ValueError(str(exc)) from None
        if not self.test_only and not self.covers(_FLOOR):
            raise ValueError(
                f"scrypt cost N={self.n} r={self.r} p={self.p} is below the production cost "
                f"N={_FLOOR.n} r={_FLOOR.r} p={_FLOOR.p}; only tests may use less (test_only=True)"
            )

    @property
    def memory(self) -> int:
        return scrypt_memory(self.n, self.r)

    @property
    def work(self) -> int:
        """Proportional to scrypt's running time: N·r·p block mixes."""
        return self.n * self.r * self.p

    def covers(self, other: ScryptCost) -> bool:
        """At least ``other``'s memory and at least its work: as hard to attack."""
        return self.memory >= other.memory and self.work >= other.work

    @property
    def production_strength(self) -> bool:
        return self.covers(_FLOOR)

    def describe(self) -> str:
        return f"scrypt N={self.n} r={self.r} p={self.p}"

    def derive(self, passphrase: bytes, salt: bytes, length: int) -> bytes:
        return scrypt_derive(passphrase, salt, self.n, self.r, self.p, length)


def scrypt_derive(passphrase: bytes, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    check_scrypt_params(n, r, p)
    return Scrypt(salt, length, n, r, p).derive(passphrase)


# A ScryptCost cannot be built below _FLOOR unless test_only, so the floor itself is built as test_only.
_FLOOR = ScryptCost(2**14, 8, 5, test_only=True)
PRODUCTION_COST = ScryptCost(_FLOOR.n, _FLOOR.r, _FLOOR.p)
# For the test suite only (about 2 ms a key instead of 0.15 s): see the module docstring.
TEST_ONLY_COST = ScryptCost(2**10, 8, 1, test_only=True)


@dataclass(frozen=True)
class Protection:
    """What a key file says about its own encryption, read without the passphrase.

    ``scheme``: ``plaintext``, ``scrypt``, or ``pbkdf2-hmac-<hash>`` (files of earlier releases and of
    other tools). ``n``, ``r``, ``p`` for scrypt, ``rounds`` for PBKDF2."""

    scheme: str
    n: int = 0
    r: int = 0
    p: int = 0
    rounds: int = 0

    @property
    def encrypted(self) -> bool:
        return self.scheme != "plaintext"

    def at_least(self, cost: ScryptCost) -> bool:
        """Whether the file is protected at least as a store writing with ``cost`` would protect it."""
        if self.scheme != "scrypt":
            return False
        return scrypt_memory(self.n, self.r) >= cost.memory and self.n * self.r * self.p >= cost.work

    def describe(self) -> str:
        if self.scheme == "scrypt":
            return f"scrypt N={self.n} r={self.r} p={self.p}"
        if self.rounds:
            return f"{self.scheme} {self.rounds}"
        return self.scheme
