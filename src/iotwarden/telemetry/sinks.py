"""How the rows of one transaction reach the database: one sink per dialect.

The statement is SQLAlchemy Core's ``INSERT ... ON CONFLICT DO NOTHING``, compiled once for
the engine's dialect; rows are plain tuples already in the driver's form (the device id is
converted once per request), so no per-row work happens in Python beyond building the tuple.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from sqlalchemy import Insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import PoolProxiedConnection

from iotwarden.db.engine import sqlite_sync_twin

# From db.models: every model loaded, so the foreign key gives device_id its type.
from iotwarden.db.models import Reading

# (device_id in the driver's form, metric, ts_ms, value), in the order of COLUMNS.
Row = tuple[Any, str, int, float]
COLUMNS = ("device_id", "metric", "ts_ms", "value")
# Rows per multi-row INSERT on SQLite: 4 parameters each, within the 32766 variables SQLite
# allows since 3.32 (999 before).
SQLITE_ROWS_PER_STATEMENT = 4000 if sqlite3.sqlite_version_info >= (3, 32) else 249


def insert_readings(dialect_name: str) -> Insert:
    """INSERT ... ON CONFLICT DO NOTHING: a reading already stored is not stored twice."""
    keys = [Reading.device_id, Reading.metric, Reading.ts_ms]
    if dialect_name == "postgresql":
        return postgresql.insert(Reading).on_conflict_do_nothing(index_elements=keys)
    if dialect_name == "sqlite":
        return sqlite.insert(Reading).on_conflict_do_nothing(index_elements=keys)
    raise ValueError(f"unsupported database: {dialect_name}")


class Sink(Protocol):
    async def insert(self, rows: list[Row]) -> None: ...

    def close(self) -> None: ...


class PostgresSink:
    """asyncpg pipelines an executemany of one prepared statement itself."""

    def __init__(self, engine: AsyncEngine, sql: str) -> None:
        self._engine = engine
        self._sql = sql

    async def insert(self, rows: list[Row]) -> None:
        async with self._engine.begin() as connection:
            await connection.exec_driver_sql(self._sql, rows)

    def close(self) -> None:
        pass


class SQLiteSink:
    """The whole transaction in one call on a thread of its own, as multi-row INSERTs.

    Through aiosqlite each statement is a trip to its thread, and an executemany steps row by
    row, taking the GIL back after each: while the event loop is busy, every hand-over waits,
    and that cost far more than the insert. Here the loop hands over once per transaction, and
    SQLite does the B-tree work of thousands of rows in one step, without the GIL.

    The thread keeps one driver connection open for its lifetime and talks to it directly:
    no pool checkout, no SQLAlchemy execution context per transaction, and the driver's
    statement cache keeps the INSERTs for the usual row counts prepared. Errors are raised as
    SQLAlchemy raises them (``IntegrityError`` for a device deleted meanwhile).
    """

    def __init__(self, engine: AsyncEngine, sql: str, rows_per_statement: int) -> None:
        head, values, tail = sql.partition(" VALUES (?, ?, ?, ?)")
        if not values:
            raise ValueError(f"unexpected INSERT for SQLite: {sql}")
        self._head, self._tail = head + " VALUES ", tail
        self._rows_per_statement = rows_per_statement
        self._engine = sqlite_sync_twin(engine)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="telemetry-sqlite")
        # Used on the writer thread only: opened there on first use, closed by close().
        self._connection: PoolProxiedConnection | None = None
        self._statements: dict[int, str] = {}

    async def insert(self, rows: list[Row]) -> None:
        await asyncio.get_running_loop().run_in_executor(self._thread, self._insert, rows)

    def _statement(self, count: int) -> str:
        sql = self._statements.get(count)
        if sql is None:
            sql = self._head + ", ".join(["(?, ?, ?, ?)"] * count) + self._tail
            if len(self._statements) < 256:
                self._statements[count] = sql
        return sql

    def _insert(self, rows: list[Row]) -> None:
        connection = self._driver_connection()
        step = self._rows_per_statement
        sql = ""
        try:
            if len(rows) <= step:
                # One statement in autocommit mode is a transaction of its own: SQLite
                # inserts, commits and syncs in one step, and this thread takes the GIL
                # back once, not after BEGIN, INSERT and COMMIT each (every time it waits for
                # a busy event loop to let go of it).
                sql = self._statement(len(rows))
                connection.execute(sql, tuple(itertools.chain.from_iterable(rows)))
                return
            sql = "BEGIN"
            connection.execute(sql)
            for start in range(0, len(rows), step):
                chunk = rows[start : start + step]
                sql = self._statement(len(chunk))
                connection.execute(sql, tuple(itertools.chain.from_iterable(chunk)))
            sql = "COMMIT"
            connection.execute(sql)
        except sqlite3.Error as exc:
            self._rollback(connection)
            raise DBAPIError.instance(sql, None, exc, sqlite3.Error) from exc
        except BaseException:
            self._rollback(connection)
            raise

    def _driver_connection(self) -> sqlite3.Connection:
        if self._connection is None:
            # Through the engine: the same pragmas as every other connection (FULL, WAL).
            proxied = self._engine.raw_connection()
            driver = proxied.driver_connection
            if not isinstance(driver, sqlite3.Connection):
                proxied.close()
                raise TypeError(f"expected a sqlite3 connection, got {type(driver)}")
            # Autocommit: transactions are the ones _insert opens, never implicit ones.
            driver.isolation_level = None
            self._connection = proxied
        driver = self._connection.driver_connection
        assert isinstance(driver, sqlite3.Connection)
        return driver

    def _rollback(self, connection: sqlite3.Connection) -> None:
        if not connection.in_transaction:
            return
        try:
            connection.execute("ROLLBACK")
        except sqlite3.Error:
            # A connection that cannot roll back is not reused: the next call opens another.
            if self._connection is not None:
                self._connection.invalidate()
            self._connection = None

    def _release(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def close(self) -> None:
        # The connection belongs to the writer thread: closed there, then the thread stops.
        with contextlib.suppress(RuntimeError):
            self._thread.submit(self._release).result()
        self._thread.shutdown(wait=True)
        self._engine.dispose()


def open_sink(engine: AsyncEngine, sqlite_rows_per_statement: int) -> Sink:
    """The sink for the engine's dialect, with the INSERT compiled for it."""
    dialect = engine.dialect
    compiled = insert_readings(dialect.name).compile(dialect=dialect, column_keys=COLUMNS)
    if not dialect.positional or tuple(compiled.positiontup or ()) != COLUMNS:
        raise ValueError(f"expected positional parameters {COLUMNS}: {compiled}")
    if dialect.name == "sqlite":
        return SQLiteSink(engine, str(compiled), sqlite_rows_per_statement)
    return PostgresSink(engine, str(compiled))
