"""Redis-backed state store: shared by every worker and survives app restarts."""

from __future__ import annotations

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from iotwarden.state.base import DEFAULT_PREFIX, ttl_to_ms

# INCR and PEXPIRE must happen in one atomic step: a crash between them would
# leave a counter that never expires.  Expiry is applied only when the key has
# none, i.e. when INCR just created it, so the window stays fixed.
_INCR_SCRIPT = """
local n = redis.call('INCR', KEYS[1])
if redis.call('PTTL', KEYS[1]) == -1 then
    redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return n
"""

# Redis error texts that mean "the stored value is not a counter".
_NOT_A_COUNTER = ("not an integer", "overflow")


class RedisStore:
    """StateStore on top of ``redis.asyncio``; takes ownership of the client."""

    def __init__(self, client: Redis, *, prefix: str = DEFAULT_PREFIX) -> None:
        self._redis = client
        self._prefix = prefix
        self._incr_script = client.register_script(_INCR_SCRIPT)

    @classmethod
    def from_url(cls, url: str, *, prefix: str = DEFAULT_PREFIX) -> RedisStore:
        # Connecting is lazy, so this never blocks and never fails on a down server.
        client = Redis.from_url(url, decode_responses=True)
        return cls(client, prefix=prefix)

    async def set(self, key: str, value: str, ttl: float) -> None:
        await self._redis.set(self._prefix + key, value, px=ttl_to_ms(ttl))

    async def get(self, key: str) -> str | None:
        return _as_str(await self._redis.get(self._prefix + key))

    async def add(self, key: str, value: str, ttl: float) -> bool:
        created = await self._redis.set(self._prefix + key, value, px=ttl_to_ms(ttl), nx=True)
        return bool(created)

    async def delete(self, key: str) -> None:
        await self._redis.delete(self._prefix + key)

    async def incr(self, key: str, ttl: float) -> int:
        ttl_ms = ttl_to_ms(ttl)
        try:
            result = await self._incr_script(keys=[self._prefix + key], args=[ttl_ms])
        except ResponseError as exc:
            if any(text in str(exc) for text in _NOT_A_COUNTER):
                raise ValueError("value is not a 64-bit integer counter") from exc
            raise
        return int(result)

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except (RedisError, OSError):
            return False

    async def close(self) -> None:
        await self._redis.aclose()


def _as_str(raw: bytes | str | None) -> str | None:
    # Tolerate a caller-supplied client that was built without decode_responses.
    if isinstance(raw, bytes):
        return raw.decode()
    return raw
