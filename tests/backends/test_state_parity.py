"""One behavioural suite run against every StateStore backend.

Each test runs once per backend, so any divergence between the in-process and
Redis stores shows up as a failure on one parameter only.
"""

from __future__ import annotations

import asyncio
import math
import uuid
from collections.abc import AsyncIterator, Callable

import pytest

from iotwarden.state import MemoryStore, StateStore, open_state
from iotwarden.state.redis import RedisStore
from tests.backends.redis_keys import delete_prefixed

TTL = 0.2
# Comfortably past TTL; sleeps only ever run long, so this cannot flake.
PAST_TTL = 0.4
# Namespace for this pytest process; each store adds its own suffix.
RUN_PREFIX = f"iotw-test:{uuid.uuid4().hex}:"

StoreFactory = Callable[[str], StateStore]


@pytest.fixture(params=["memory", "redis"])
async def make_store(request: pytest.FixtureRequest) -> AsyncIterator[StoreFactory]:
    """Factory for stores of the current backend; each call gets a fresh prefix."""
    url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    test_prefix = f"{RUN_PREFIX}{uuid.uuid4().hex[:8]}:"
    stores: list[StateStore] = []

    def factory(suffix: str = "") -> StateStore:
        # Going through open_state also covers the URL -> backend mapping.
        store = open_state(url, prefix=f"{test_prefix}{suffix}")
        stores.append(store)
        return store

    yield factory
    for store in stores:
        await store.close()
    if url:
        await delete_prefixed(url, test_prefix)


@pytest.fixture
def store(make_store: StoreFactory) -> StateStore:
    return make_store("")


async def test_store_satisfies_protocol(store: StateStore) -> None:
    assert isinstance(store, StateStore)
    assert await store.ping() is True


async def test_set_then_get(store: StateStore) -> None:
    await store.set("k", "v", ttl=10)
    assert await store.get("k") == "v"


async def test_get_missing_is_none(store: StateStore) -> None:
    assert await store.get("never-set") is None


async def test_set_overwrites(store: StateStore) -> None:
    await store.set("k", "one", ttl=10)
    await store.set("k", "two", ttl=10)
    assert await store.get("k") == "two"


async def test_value_round_trips_unicode(store: StateStore) -> None:
    await store.set("k", "jti:é✓", ttl=10)
    assert await store.get("k") == "jti:é✓"


async def test_entry_expires_after_ttl(store: StateStore) -> None:
    await store.set("k", "v", ttl=TTL)
    await asyncio.sleep(PAST_TTL)
    assert await store.get("k") is None


@pytest.mark.parametrize("ttl", [0, -1, math.nan, math.inf])
async def test_invalid_ttl_is_rejected(store: StateStore, ttl: float) -> None:
    # A TTL that never expires would make a single-use token permanent.
    with pytest.raises(ValueError, match="ttl"):
        await store.set("k", "v", ttl=ttl)
    with pytest.raises(ValueError, match="ttl"):
        await store.add("k", "v", ttl=ttl)
    with pytest.raises(ValueError, match="ttl"):
        await store.incr("k", ttl=ttl)
    assert await store.get("k") is None


async def test_add_succeeds_only_once(store: StateStore) -> None:
    assert await store.add("once", "first", ttl=10) is True
    assert await store.add("once", "second", ttl=10) is False
    assert await store.get("once") == "first"


async def test_add_does_not_override_set(store: StateStore) -> None:
    await store.set("k", "existing", ttl=10)
    assert await store.add("k", "new", ttl=10) is False
    assert await store.get("k") == "existing"


async def test_add_succeeds_again_after_expiry(store: StateStore) -> None:
    assert await store.add("once", "a", ttl=TTL) is True
    await asyncio.sleep(PAST_TTL)
    assert await store.add("once", "b", ttl=10) is True
    assert await store.get("once") == "b"


async def test_concurrent_add_has_exactly_one_winner(store: StateStore) -> None:
    results = await asyncio.gather(*(store.add("race", str(i), ttl=10) for i in range(20)))
    assert results.count(True) == 1
    winner = results.index(True)
    assert await store.get("race") == str(winner)


async def test_incr_counts_from_one(store: StateStore) -> None:
    assert [await store.incr("c", ttl=10) for _ in range(3)] == [1, 2, 3]
    assert await store.get("c") == "3"


async def test_concurrent_incr_loses_no_updates(store: StateStore) -> None:
    results = await asyncio.gather(*(store.incr("c", ttl=10) for _ in range(20)))
    assert sorted(results) == list(range(1, 21))


async def test_incr_window_is_fixed_and_resets(store: StateStore) -> None:
    assert await store.incr("c", ttl=0.3) == 1
    await asyncio.sleep(0.2)
    # This increment must not push the expiry out to 0.2 + 0.3 seconds.
    assert await store.incr("c", ttl=0.3) == 2
    await asyncio.sleep(0.2)
    assert await store.get("c") is None
    assert await store.incr("c", ttl=10) == 1


async def test_incr_on_non_integer_raises_value_error(store: StateStore) -> None:
    await store.set("c", "not-a-number", ttl=10)
    with pytest.raises(ValueError, match="integer"):
        await store.incr("c", ttl=10)
    assert await store.get("c") == "not-a-number"


async def test_incr_continues_from_set_integer(store: StateStore) -> None:
    await store.set("c", "41", ttl=10)
    assert await store.incr("c", ttl=10) == 42


async def test_delete_removes_key(store: StateStore) -> None:
    await store.set("k", "v", ttl=10)
    await store.delete("k")
    assert await store.get("k") is None
    assert await store.add("k", "again", ttl=10) is True


async def test_delete_missing_key_is_noop(store: StateStore) -> None:
    await store.delete("never-set")


async def test_prefixes_isolate_stores(make_store: StoreFactory) -> None:
    tenant_a, tenant_b = make_store("a:"), make_store("b:")
    await tenant_a.set("k", "from-a", ttl=10)
    assert await tenant_b.get("k") is None
    assert await tenant_b.add("k", "from-b", ttl=10) is True
    assert await tenant_b.incr("n", ttl=10) == 1
    assert await tenant_a.incr("n", ttl=10) == 1
    assert await tenant_a.get("k") == "from-a"
    await tenant_b.delete("k")
    assert await tenant_a.get("k") == "from-a"


# --- open_state URL selection (not per-backend) ----------------------------------


@pytest.mark.parametrize("url", [None, "memory://"])
async def test_open_state_memory(url: str | None) -> None:
    store = open_state(url)
    try:
        assert isinstance(store, MemoryStore)
        await store.set("k", "v", ttl=10)
        assert await store.get("k") == "v"
    finally:
        await store.close()


@pytest.mark.parametrize("scheme", ["redis", "rediss"])
def test_open_state_selects_redis_without_connecting(scheme: str) -> None:
    # Construction is lazy, so this needs no server; the client is never used.
    store = open_state(f"{scheme}://127.0.0.1:1/0")
    assert isinstance(store, RedisStore)


async def test_open_state_redis_round_trip(redis_url: str) -> None:
    prefix = f"{RUN_PREFIX}open-state:"
    store = open_state(redis_url, prefix=prefix)
    try:
        assert await store.ping() is True
        await store.set("k", "v", ttl=10)
        assert await store.get("k") == "v"
    finally:
        await store.close()
        await delete_prefixed(redis_url, prefix)


@pytest.mark.parametrize(
    "url",
    ["", "memory", "memory://somehost", "http://127.0.0.1:6379", "unix:///tmp/redis.sock"],
)
def test_open_state_rejects_unknown_urls(url: str) -> None:
    with pytest.raises(ValueError, match="memory://"):
        open_state(url)


def test_open_state_error_does_not_echo_credentials() -> None:
    with pytest.raises(ValueError, match="postgresql") as excinfo:
        open_state("postgresql://admin:hunter2@db.internal/iot")
    assert "hunter2" not in str(excinfo.value)


async def test_redis_ping_reports_unreachable_server() -> None:
    # Port 1 is reserved and closed; ping must report False, not raise.
    store = RedisStore.from_url("redis://127.0.0.1:1/0")
    try:
        assert await store.ping() is False
    finally:
        await store.close()


# --- memory-only housekeeping ------------------------------------------------------


async def test_memory_store_sweeps_expired_entries() -> None:
    now = [0.0]
    store = MemoryStore(sweep_batch=8, clock=lambda: now[0])
    for i in range(1000):
        await store.set(f"old-{i}", "v", ttl=1)
    now[0] = 5.0
    # Entries nobody reads again must still be reclaimed by ordinary writes.
    for i in range(200):
        await store.set(f"new-{i}", "v", ttl=1)
    assert len(store) == 200
