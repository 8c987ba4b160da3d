"""Account password hashing (argon2id) and the password policy.

Every entry point NFKC-normalizes the password first (NIST SP 800-63B-4), so a
password typed on a keyboard that emits a different but equivalent code point
sequence still verifies, and the policy measures what is actually hashed.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources

import anyio.to_thread
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

# OWASP Password Storage Cheat Sheet minimum for argon2id: 19 MiB, 2 passes, 1 lane.
ARGON2_MEMORY_COST_KIB = 19_456
ARGON2_TIME_COST = 2
ARGON2_PARALLELISM = 1
ARGON2_HASH_LEN = 32
ARGON2_SALT_LEN = 16

# NIST SP 800-63B-4 for passwords used as a single factor; the upper bound only
# keeps hashing cost and storage sane, it is far above anything a human types.
MIN_PASSWORD_LENGTH = 15
MAX_PASSWORD_LENGTH = 256

_COMMON_PASSWORDS_RESOURCE = "data/common-passwords.txt"

_hasher = PasswordHasher(
    time_cost=ARGON2_TIME_COST,
    memory_cost=ARGON2_MEMORY_COST_KIB,
    parallelism=ARGON2_PARALLELISM,
    hash_len=ARGON2_HASH_LEN,
    salt_len=ARGON2_SALT_LEN,
    type=Type.ID,
)

# Hash of a random, discarded secret made with the parameters above. Kept as a
# literal rather than computed at import so neither start-up nor the first
# unknown-account login pays an extra hash; a unit test guards that it still
# matches the parameters (otherwise unknown accounts would be measurably faster).
_DUMMY_HASH = (
    "$argon2id$v=19$m=19456,t=2,p=1$sWcu9PZ1IKZZG54Mz19mGg"
    "$phWK4s7mJWgX7Zip9ZrvliSDirIc5o5z3Gt7O9Xm6JQ"
)


class WeakPasswordError(ValueError):
    """The password does not satisfy the policy; the message is shown to the user."""


def _normalize(pw: str) -> str:
    return unicodedata.normalize("NFKC", pw)


def hash_password(pw: str) -> str:
    """Return an encoded argon2id hash of ``pw``."""
    return _hasher.hash(_normalize(pw))


def verify_password(hash: str, pw: str) -> bool:
    """Whether ``pw`` matches ``hash``; False (never an exception) on any failure."""
    try:
        return _hasher.verify(hash, _normalize(pw))
    # UnicodeError: a non-ASCII hash, or a password with lone surrogates (which
    # JSON "\ud800" escapes can produce), cannot be encoded; neither can match.
    except (VerificationError, InvalidHashError, UnicodeError):
        return False


def needs_rehash(hash: str) -> bool:
    """Whether ``hash`` was made with other parameters (or cannot be parsed)."""
    try:
        return _hasher.check_needs_rehash(hash)
    # InvalidHashError is a ValueError, and so is a bad number inside the
    # parameter section; an unreadable hash is best replaced at next login.
    except ValueError:
        return True


def verify_dummy(pw: str) -> None:
    """Spend the time of one real verification, for logins to unknown accounts.

    Without it a missing account answers in microseconds and a present one in
    tens of milliseconds, which lets anyone enumerate registered emails.
    """
    verify_password(_DUMMY_HASH, pw)


# argon2 runs in C for tens of milliseconds with the GIL released (cffi does
# that), so a worker thread keeps the event loop serving other requests.
async def hash_password_async(pw: str) -> str:
    return await anyio.to_thread.run_sync(hash_password, pw)


async def verify_password_async(hash: str, pw: str) -> bool:
    return await anyio.to_thread.run_sync(verify_password, hash, pw)


async def verify_dummy_async(pw: str) -> None:
    await anyio.to_thread.run_sync(verify_dummy, pw)


@cache
def _common_passwords() -> frozenset[str]:
    # Loaded on first use only: 40k entries are not worth paying for in
    # processes (CLI, workers) that never check a new password.
    text = (
        resources.files("iotwarden.auth")
        .joinpath(_COMMON_PASSWORDS_RESOURCE)
        .read_text(encoding="utf-8")
    )
    return frozenset(line for line in text.splitlines() if line)


@dataclass(frozen=True, slots=True)
class PasswordPolicy:
    """NIST SP 800-63B-4 rules: length and a blocklist, deliberately no composition rules."""

    min_length: int = MIN_PASSWORD_LENGTH
    max_length: int = MAX_PASSWORD_LENGTH

    def check(self, pw: str, *, email: str | None = None) -> None:
        """Raise :class:`WeakPasswordError` if ``pw`` may not be set as a password."""
        normalized = _normalize(pw)
        if not _is_encodable(normalized):
            raise WeakPasswordError("Password contains characters that cannot be stored.")
        # len() counts code points, which is what NIST means by "characters".
        if len(normalized) < self.min_length:
            raise WeakPasswordError(f"Password must be at least {self.min_length} characters long.")
        if len(normalized) > self.max_length:
            raise WeakPasswordError(f"Password must be at most {self.max_length} characters long.")
        folded = normalized.lower()
        if folded in _common_passwords():
            raise WeakPasswordError("This password is too common; please choose another one.")
        if email is not None and folded in _email_variants(email):
            raise WeakPasswordError("Password must not be your email address.")


def _is_encodable(pw: str) -> bool:
    try:
        pw.encode("utf-8")
    except UnicodeError:
        return False
    return True


def _email_variants(email: str) -> frozenset[str]:
    folded = _normalize(email).strip().lower()
    local, _, _ = folded.rpartition("@")
    return frozenset(v for v in (folded, local) if v)


DEFAULT_POLICY = PasswordPolicy()


def check_password(pw: str, *, email: str | None = None) -> None:
    """Apply :data:`DEFAULT_POLICY`; the :class:`WeakPasswordError` message is user-facing."""
    DEFAULT_POLICY.check(pw, email=email)
