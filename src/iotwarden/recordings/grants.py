"""Download grants: signed, short-lived, single-use, bound to one recording and one user.

A grant is ``base64url(recording id | user id | expiry | nonce | HMAC-SHA256)``, with a key
derived from the app secret for this one purpose. ``verify`` answers ``None`` for every
failure alike; spending the nonce (single use) is the caller's job, against the state store.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
import re
import secrets
import struct
import time
import uuid
from dataclasses import dataclass
from typing import Final

_PAYLOAD: Final = struct.Struct(">16s16sQ16s")  # recording id, user id, expiry (epoch s), nonce
_MAC_SIZE: Final = hashlib.sha256().digest_size
_TOKEN_LENGTH: Final = math.ceil((_PAYLOAD.size + _MAC_SIZE) * 4 / 3)
_TOKEN: Final = re.compile(rf"[A-Za-z0-9_-]{{{_TOKEN_LENGTH}}}")
_PURPOSE: Final = b"iotwarden recording download grant v1"


@dataclass(frozen=True, slots=True)
class Grant:
    recording_id: uuid.UUID
    user_id: uuid.UUID
    expires_at: int
    nonce: str

    def ttl(self, now: float | None = None) -> float:
        return self.expires_at - (time.time() if now is None else now)


def issue(
    secret: bytes, recording_id: uuid.UUID, user_id: uuid.UUID, ttl: int
) -> tuple[str, Grant]:
    grant = Grant(recording_id, user_id, int(time.time()) + ttl, secrets.token_hex(16))
    return sign(secret, grant), grant


def sign(secret: bytes, grant: Grant) -> str:
    payload = _PAYLOAD.pack(
        grant.recording_id.bytes, grant.user_id.bytes, grant.expires_at, bytes.fromhex(grant.nonce)
    )
    raw = payload + _mac(secret, payload)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def verify(secret: bytes, token: str, user_id: uuid.UUID) -> Grant | None:
    """The grant if ``token`` is authentic, unexpired and was issued to ``user_id``."""
    if not _TOKEN.fullmatch(token):
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
    if base64.urlsafe_b64encode(raw).decode().rstrip("=") != token:
        return None  # one encoding per grant: no look-alike spellings of the same bytes
    payload, mac = raw[: _PAYLOAD.size], raw[_PAYLOAD.size :]
    if not hmac.compare_digest(mac, _mac(secret, payload)):
        return None
    recording, user, expires_at, nonce = _PAYLOAD.unpack(payload)
    grant = Grant(uuid.UUID(bytes=recording), uuid.UUID(bytes=user), expires_at, nonce.hex())
    if grant.user_id != user_id or grant.ttl() <= 0:
        return None
    return grant


def _mac(secret: bytes, payload: bytes) -> bytes:
    key = hmac.new(secret, _PURPOSE, hashlib.sha256).digest()
    return hmac.new(key, payload, hashlib.sha256).digest()
