"""Shared plumbing for suites that talk to real backing services.

Locally a missing service skips its tests so a laptop without Redis or
PostgreSQL can still run the suite; with CI=true the same situation fails,
because a silently skipped backend would let CI pass without testing it.

Test modules should take ``require_service`` (and ``redis_url``) as fixtures
rather than ``from conftest import ...``: with several conftest.py files and no
``__init__.py`` the bare name ``conftest`` may resolve to another directory's file.

Which servers (override to point elsewhere, e.g. at a closed port to see the skips):

- ``IOTWARDEN_TEST_PG_URL``: a PostgreSQL database to connect to for administration,
  default ``postgresql://postgres@127.0.0.1:5432/test``. Each pytest session creates a
  fresh ``iotw_test_<pid>_<hex>`` database next to it and drops it at the end; one left by
  a session that was killed (its pid gone) is dropped by the next.
- ``IOTWARDEN_TEST_REDIS_URL``: default ``redis://127.0.0.1:6379/0``. Tests only touch keys
  under a random per-run prefix and delete them afterwards; nothing is ever flushed.

Fixtures for the app (the ``settings`` override makes ``app``, ``ctx``, ``client``,
``alice`` and ``bob`` from ``tests/conftest.py`` run on each backend):

- ``database_url``: ``sqlite`` | ``postgresql``, an empty database for every test.
- ``state_url``: ``memory`` | ``redis``, the app's ``REDIS_URL``.
- ``postgres_url``: the PostgreSQL database alone, emptied, for non-parametrized tests.
- ``app_state_prefix``: namespaces the Redis keys of every app built in the test (the
  ``settings`` override uses it; use it too when calling ``create_app`` yourself).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit

import asyncpg
import pytest
import redis
import redis.asyncio
from sqlalchemy.engine import URL, make_url

import iotwarden.app
from iotwarden.config import Settings
from iotwarden.state import StateStore, open_state
from iotwarden.state.redis import RedisStore
from tests.backends.redis_keys import delete_prefixed

REDIS_URL = os.environ.get("IOTWARDEN_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PG_ADMIN_URL = os.environ.get("IOTWARDEN_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
# Short timeout so an absent service costs a second, not the client default.
_PROBE_TIMEOUT = 1.0
# Every Redis key the app writes in this pytest process lives under this prefix.
_RUN_PREFIX = f"iotw-test:{secrets.token_hex(8)}:"


def running_in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def require_service(name: str, exc: BaseException, *, at: str | None = None) -> NoReturn:
    """Skip (locally) or fail (CI=true) because service ``name`` is unreachable.

    ``at`` is shown in the message; pass a location without credentials.
    """
    where = f" at {at}" if at else ""
    message = f"{name} unreachable{where}: {type(exc).__name__}: {exc}"
    if running_in_ci():
        pytest.fail(f"{message} (CI=true: backend tests must not be skipped)", pytrace=False)
    pytest.skip(message)


def _location(url: str) -> str:
    """``scheme://host:port/path`` of ``url``: what to show, without user or password."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname or ''}{port}{parts.path}"


@pytest.fixture(name="require_service")
def _require_service_fixture() -> Callable[..., NoReturn]:
    return require_service


@pytest.fixture(scope="session")
def redis_url() -> str:
    """URL of a reachable Redis; probed once per session (the skip is cached too)."""
    client = redis.Redis.from_url(
        REDIS_URL, socket_connect_timeout=_PROBE_TIMEOUT, socket_timeout=_PROBE_TIMEOUT
    )
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        require_service("Redis", exc, at=_location(REDIS_URL))
    finally:
        client.close()
    return REDIS_URL


# --- PostgreSQL ------------------------------------------------------------------------


def _asyncpg_dsn(url: URL) -> str:
    # asyncpg takes libpq-style DSNs: no "+driver" in the scheme.
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


async def _pg_execute(url: URL, sql: str) -> None:
    connection = await asyncpg.connect(_asyncpg_dsn(url), timeout=_PROBE_TIMEOUT)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


async def _pg_fetch_names(url: URL, like: str) -> list[str]:
    connection = await asyncpg.connect(_asyncpg_dsn(url), timeout=_PROBE_TIMEOUT)
    try:
        rows = await connection.fetch("SELECT datname FROM pg_database WHERE datname LIKE $1", like)
    finally:
        await connection.close()
    return [str(row["datname"]) for row in rows]


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def _drop_abandoned(admin: URL) -> None:
    """Drop the databases of test sessions on this machine that were killed before their
    teardown: the pid in the name is gone, and nobody is connected (no FORCE)."""
    for name in await _pg_fetch_names(admin, "iotw\\_test\\_%"):
        pid = name.split("_")[2]
        if pid.isdigit() and not _process_alive(int(pid)):
            with contextlib.suppress(asyncpg.PostgresError):
                await _pg_execute(admin, f'DROP DATABASE IF EXISTS "{name}"')


@pytest.fixture(scope="session")
def _postgres_database() -> Iterator[URL]:
    """A database of its own for this pytest session, dropped at the end, pass or fail.

    Created from the ``IOTWARDEN_TEST_PG_URL`` database, which is only used to run
    CREATE/DROP DATABASE. Probed once: the skip (or CI failure) is cached for the session.
    """
    admin = make_url(PG_ADMIN_URL)
    name = f"iotw_test_{os.getpid()}_{secrets.token_hex(6)}"
    # Sync fixture, no loop running yet: a private loop per statement is enough here.
    try:
        asyncio.run(_drop_abandoned(admin))
        asyncio.run(_pg_execute(admin, f'CREATE DATABASE "{name}"'))
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        require_service("PostgreSQL", exc, at=_location(_asyncpg_dsn(admin)))
    try:
        yield admin.set(database=name)
    finally:
        # FORCE: a test that leaked a connection must not leave the database behind.
        asyncio.run(_pg_execute(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
async def postgres_url(_postgres_database: URL) -> str:
    """The session's PostgreSQL database, emptied: each test starts with no tables at all,
    exactly like a fresh SQLite file, and migrates it itself (the ``app`` fixture does)."""
    await _pg_execute(_postgres_database, "DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    # The plain form operators type; the app picks the asyncpg driver itself.
    return _asyncpg_dsn(_postgres_database)


# --- the app on each backend --------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each kind."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'iotwarden-test.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture(params=["memory", "redis"])
def state_url(request: pytest.FixtureRequest) -> str | None:
    """The app's ``REDIS_URL``: None is the in-process store."""
    if request.param == "memory":
        return None
    url: str = request.getfixturevalue("redis_url")
    return url


@pytest.fixture
async def app_state_prefix(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[str]:
    """Puts every state store ``create_app`` opens during the test under a fresh key prefix,
    deleted afterwards, so app tests share no Redis keys with each other or anyone else.

    Settings has no prefix option, so ``open_state`` as seen by ``iotwarden.app`` gets one.
    """
    prefix = f"{_RUN_PREFIX}{secrets.token_hex(4)}:"
    redis_urls: set[str] = set()

    def prefixed(url: str | None) -> StateStore:
        store = open_state(url, prefix=prefix)
        if url is not None and isinstance(store, RedisStore):
            redis_urls.add(url)
        return store

    monkeypatch.setattr(iotwarden.app, "open_state", prefixed)
    yield prefix
    for url in redis_urls:
        await delete_prefixed(url, prefix)


@pytest.fixture
def settings(
    tmp_path: Path, database_url: str, state_url: str | None, app_state_prefix: str
) -> Settings:
    """Overrides ``tests/conftest.py``: the same app, on every database and state store.

    Both URLs are passed explicitly so a DATABASE_URL / REDIS_URL in the environment
    cannot change which backend a test id claims to run on.
    """
    return Settings(data_dir=tmp_path / "data", database_url=database_url, redis_url=state_url)
