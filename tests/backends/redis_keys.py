"""Cleanup shared by the backend suites: only this run's keys, never a FLUSH."""

from __future__ import annotations

import redis.asyncio


async def delete_prefixed(url: str, prefix: str) -> None:
    # SCAN is fine here: cleanup is not a hot path.
    client = redis.asyncio.Redis.from_url(url)
    try:
        keys = [key async for key in client.scan_iter(match=prefix + "*", count=500)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()
