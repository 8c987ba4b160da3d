"""In-process state store for development, tests and single-worker deployments.

State lives in this process only: with several workers, each has its own copy,
so revocations and single-use markers would not be shared.  Use Redis there.
"""

from __future__ import annotations

import heapq
import re
import time
from collections.abc import Callable

from iotwarden.state.base import DEFAULT_PREFIX, ttl_to_ms

# Mirror Redis INCR: only canonical signed 64-bit decimal strings count as integers.
_INT_RE = re.compile(r"-?(?:0|[1-9][0-9]*)")
_INT64_MAX = 2**63 - 1
_INT64_MIN = -(2**63)


class MemoryStore:
    """Dict-backed StateStore with lazy expiry plus a bounded sweep.

    Every method body runs without awaiting, so under asyncio each call is
    atomic with respect to other tasks; that is what makes ``add`` and ``incr``
    race-free without locks.  Not thread-safe: use one store per event loop.
    """

    def __init__(
        self,
        *,
        prefix: str = DEFAULT_PREFIX,
        sweep_batch: int = 32,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if sweep_batch < 1:
            raise ValueError("sweep_batch must be >= 1")
        self._prefix = prefix
        self._sweep_batch = sweep_batch
        self._clock = clock
        self._data: dict[str, tuple[str, float]] = {}
        # Min-heap of (expires_at, key) so the sweep touches only expired
        # entries instead of scanning live ones.  It may hold stale pairs for
        # keys that were overwritten or deleted; those are skipped when popped.
        self._expiries: list[tuple[float, str]] = []

    async def set(self, key: str, value: str, ttl: float) -> None:
        expires_at = self._expires_at(ttl)
        self._write(self._prefix + key, value, expires_at)

    async def get(self, key: str) -> str | None:
        entry = self._live(self._prefix + key)
        return None if entry is None else entry[0]

    async def add(self, key: str, value: str, ttl: float) -> bool:
        expires_at = self._expires_at(ttl)
        full_key = self._prefix + key
        if self._live(full_key) is not None:
            return False
        self._write(full_key, value, expires_at)
        return True

    async def delete(self, key: str) -> None:
        # The heap entry becomes stale and is discarded by a later sweep.
        self._data.pop(self._prefix + key, None)

    async def incr(self, key: str, ttl: float) -> int:
        expires_at = self._expires_at(ttl)
        full_key = self._prefix + key
        entry = self._live(full_key)
        if entry is None:
            self._write(full_key, "1", expires_at)
            return 1
        value, current_expiry = entry
        new_value = _parse_int(value) + 1
        if new_value > _INT64_MAX:
            raise ValueError("increment would overflow a 64-bit counter")
        # Keep the original expiry: the window is fixed at creation.
        self._data[full_key] = (str(new_value), current_expiry)
        return new_value

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        self._data.clear()
        self._expiries.clear()

    def __len__(self) -> int:
        """Number of stored entries, including expired ones not yet purged."""
        return len(self._data)

    def _expires_at(self, ttl: float) -> float:
        # Round like the Redis backend so both expire at the same moment.
        return self._clock() + ttl_to_ms(ttl) / 1000

    def _live(self, full_key: str) -> tuple[str, float] | None:
        entry = self._data.get(full_key)
        if entry is not None and entry[1] <= self._clock():
            del self._data[full_key]
            return None
        return entry

    def _write(self, full_key: str, value: str, expires_at: float) -> None:
        self._data[full_key] = (value, expires_at)
        heapq.heappush(self._expiries, (expires_at, full_key))
        self._sweep()

    def _sweep(self) -> None:
        """Purge up to ``sweep_batch`` expired entries; called on every write.

        Each write adds at most one heap entry and can remove several, so
        expired entries cannot pile up no matter how keys are accessed.
        """
        now = self._clock()
        heap = self._expiries
        for _ in range(self._sweep_batch):
            if not heap or heap[0][0] > now:
                break
            expires_at, full_key = heapq.heappop(heap)
            entry = self._data.get(full_key)
            if entry is not None and entry[1] == expires_at:
                del self._data[full_key]
        # Overwriting a key with a long TTL leaves stale heap pairs that will
        # not be popped for a long time; rebuild once they dominate.
        if len(heap) > 2 * len(self._data) + 64:
            self._expiries = [(exp, k) for k, (_, exp) in self._data.items()]
            heapq.heapify(self._expiries)


def _parse_int(value: str) -> int:
    if _INT_RE.fullmatch(value) is None:
        raise ValueError("value is not an integer")
    number = int(value)
    if not _INT64_MIN <= number <= _INT64_MAX:
        raise ValueError("value is out of the 64-bit integer range")
    return number
