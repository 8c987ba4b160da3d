"""Ephemeral key-value state: token revocations, single-use markers, counters."""

from __future__ import annotations

from urllib.parse import urlsplit

from iotwarden.state.base import DEFAULT_PREFIX, StateStore
from iotwarden.state.memory import MemoryStore

__all__ = ["DEFAULT_PREFIX", "MemoryStore", "StateStore", "open_state"]

_REDIS_SCHEMES = frozenset({"redis", "rediss"})


def open_state(url: str | None, *, prefix: str = DEFAULT_PREFIX) -> StateStore:
    """Build the store named by ``url``: None or ``memory://``, or ``redis[s]://...``.

    Unknown schemes are rejected rather than defaulting to memory, because a
    typo would otherwise silently make revocations per-process.
    """
    if url is None:
        return MemoryStore(prefix=prefix)
    scheme = urlsplit(url).scheme.lower()
    if scheme == "memory":
        if url.lower() != "memory://":
            raise ValueError("memory state URL takes no host or options; use 'memory://'")
        return MemoryStore(prefix=prefix)
    if scheme in _REDIS_SCHEMES:
        # Imported lazily so memory-only deployments skip loading the client.
        from iotwarden.state.redis import RedisStore

        return RedisStore.from_url(url, prefix=prefix)
    # Only the scheme is echoed back: the full URL may carry a password.
    raise ValueError(
        f"unsupported state store URL scheme {scheme!r}; "
        "expected 'memory://', 'redis://' or 'rediss://'"
    )
