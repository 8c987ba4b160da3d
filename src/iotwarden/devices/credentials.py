"""Device secrets: high-entropy, shown once, kept only as a hash, checked in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets

SECRET_PREFIX = "iotw_ds_"
# Compared against when the device id is unknown, so that case costs the same.
_DUMMY_HASH = hashlib.sha256(b"iotwarden-dummy-device-secret").hexdigest()


def new_secret() -> tuple[str, str]:
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    return secret, hash_secret(secret)


def hash_secret(secret: str) -> str:
    # 256 random bits need no slow hash: nothing to brute-force offline.
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(stored_hash: str | None, presented: str) -> bool:
    expected = stored_hash if stored_hash is not None else _DUMMY_HASH
    ok = hmac.compare_digest(expected, hash_secret(presented))
    return ok and stored_hash is not None
