"""The contract every ephemeral state backend honours.

Both backends must behave identically (tests/backends/test_state_parity.py), so
callers can develop against memory:// and deploy against Redis without surprises.
"""

from __future__ import annotations

import math
from typing import Protocol, runtime_checkable

DEFAULT_PREFIX = "iotw:"


@runtime_checkable
class StateStore(Protocol):
    """Async key-value store for short-lived state; every entry has a TTL.

    Implementations prepend a per-store prefix to every key so that several
    deployments or test runs can share one Redis database without colliding.
    """

    async def set(self, key: str, value: str, ttl: float) -> None:
        """Store ``value`` under ``key`` for ``ttl`` seconds, replacing any old value."""
        ...

    async def get(self, key: str) -> str | None:
        """Return the value, or None if the key is missing or expired."""
        ...

    async def add(self, key: str, value: str, ttl: float) -> bool:
        """Atomically store only if absent; True if this call stored the value."""
        ...

    async def delete(self, key: str) -> None:
        """Remove ``key``; missing keys are not an error."""
        ...

    async def incr(self, key: str, ttl: float) -> int:
        """Atomically increment a counter and return the new value.

        The expiry is set only when the counter is created (fixed window), so
        continued increments never extend the window.  Raises ValueError if the
        key holds a non-integer value.
        """
        ...

    async def ping(self) -> bool:
        """Return True if the backend is usable; never raises."""
        ...

    async def close(self) -> None:
        """Release connections; the store must not be used afterwards."""
        ...


def ttl_to_ms(ttl: float) -> int:
    """Validate a TTL in seconds and convert it to whole milliseconds (>= 1).

    Rejecting non-positive or non-finite TTLs matters: an entry that never
    expires would silently turn a single-use token into a permanent one.
    """
    if not (math.isfinite(ttl) and ttl > 0):
        raise ValueError(f"ttl must be a finite number of seconds > 0, got {ttl!r}")
    # Round up so a tiny TTL never becomes 0 ms, which Redis rejects.
    return max(1, math.ceil(ttl * 1000))
