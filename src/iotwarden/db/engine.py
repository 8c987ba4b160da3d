"""The async engine and session factory, chosen by ``DATABASE_URL``."""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}


def normalize_url(url: str) -> str:
    """Accept the plain ``postgresql://`` / ``sqlite:///`` forms operators type."""
    parsed = make_url(url)
    driver = _DRIVERS.get(parsed.drivername)
    if driver is not None:
        parsed = parsed.set(drivername=driver)
    if parsed.get_backend_name() not in _DRIVERS:
        raise ValueError(f"unsupported database: {parsed.get_backend_name()}")
    return parsed.render_as_string(hide_password=False)


def create_engine(url: str) -> AsyncEngine:
    url = normalize_url(url)
    if url.startswith("sqlite"):
        _create_private(make_url(url).database)
        engine = create_async_engine(url, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)


def sqlite_sync_twin(engine: AsyncEngine) -> Engine:
    """A blocking engine on the same SQLite file, with the same pragmas.

    For work that must run whole on one thread of its own (the telemetry writer): through
    aiosqlite every statement is a separate trip to the driver's thread.
    """
    if engine.url.database in (None, "", ":memory:"):
        raise ValueError("an in-memory SQLite database has no twin: each connection has its own")
    twin = create_sync_engine(engine.url.set(drivername="sqlite"), connect_args={"timeout": 30})
    event.listen(twin, "connect", _sqlite_pragmas)
    return twin


def _create_private(database: str | None) -> None:
    # SQLite gives its -wal and -shm files the database file's mode: make that owner-only.
    if database and database != ":memory:" and not os.path.exists(database):
        os.close(os.open(database, os.O_CREAT | os.O_WRONLY, 0o600))


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    # FULL: a 2xx promises the data survives a power cut, not only a crash.
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
