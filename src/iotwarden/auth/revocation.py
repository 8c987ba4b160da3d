"""Revoked session families and device credentials, kept in the shared state store.

An entry only has to outlive the longest access token it could still match.
"""

from __future__ import annotations

import uuid

from iotwarden.state import StateStore

_PREFIX = "revoked:"


async def revoke(state: StateStore, sid: uuid.UUID, ttl: float) -> None:
    await state.set(_PREFIX + str(sid), "1", ttl)


async def is_revoked(state: StateStore, sid: uuid.UUID) -> bool:
    return await state.get(_PREFIX + str(sid)) is not None
