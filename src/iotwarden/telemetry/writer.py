"""Group commit for telemetry: many requests, one transaction, and no 2xx before the commit.

Each ingest request hands its rows to the app's :class:`BatchWriter` and awaits a future.
One background task takes everything queued, inserts it in one transaction, commits, and
only then resolves the futures. Under load a transaction carries the rows of many requests,
so SQLite pays one fsync for all of them.

The statement is SQLAlchemy Core's ``INSERT ... ON CONFLICT DO NOTHING``, compiled once for
the engine's dialect; rows are plain tuples already in the driver's form (the device id is
converted once per request), so no per-row work happens in Python beyond building the tuple.
How the rows reach the database depends on it, see :class:`_PostgresSink` and
:class:`_SQLiteSink`.

A failed transaction acknowledges nothing: if several requests shared it, each is retried
alone so that one bad request (a device deleted meanwhile) cannot fail the others, and every
request learns its own outcome. The queue is bounded: when the database falls behind,
requests wait for room instead of being dropped or piling up in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import sqlite3
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from fastapi import FastAPI, Request
from sqlalchemy import Insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import PoolProxiedConnection

from iotwarden.db.engine import sqlite_sync_twin

# From db.models: every model loaded, so the foreign key gives device_id its type.
from iotwarden.db.models import Reading
from iotwarden.telemetry.schemas import ReadingIn

log = logging.getLogger("iotwarden.telemetry")

# (device_id in the driver's form, metric, ts_ms, value), in the order of COLUMNS.
Row = tuple[Any, str, int, float]
COLUMNS = ("device_id", "metric", "ts_ms", "value")
# Requests waiting in the queue; each holds at most 1000 readings.
MAX_QUEUED_REQUESTS = 256
# Rows per transaction: large enough to amortize the commit, small enough to keep latency.
MAX_ROWS_PER_TRANSACTION = 20_000
# Rows per multi-row INSERT on SQLite: 4 parameters each, within the 32766 variables SQLite
# allows since 3.32 (999 before).
SQLITE_ROWS_PER_STATEMENT = 4000 if sqlite3.sqlite_version_info >= (3, 32) else 249


class WriterClosedError(RuntimeError):
    """Rows were submitted after :meth:`BatchWriter.close`."""


@dataclass(slots=True)
class _Job:
    rows: list[Row]
    done: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


def insert_readings(dialect_name: str) -> Insert:
    """INSERT ... ON CONFLICT DO NOTHING: a reading already stored is not stored twice."""
    keys = [Reading.device_id, Reading.metric, Reading.ts_ms]
    if dialect_name == "postgresql":
        return postgresql.insert(Reading).on_conflict_do_nothing(index_elements=keys)
    if dialect_name == "sqlite":
        return sqlite.insert(Reading).on_conflict_do_nothing(index_elements=keys)
    raise ValueError(f"unsupported database: {dialect_name}")


class _Sink(Protocol):
    async def insert(self, rows: list[Row]) -> None: ...

    def close(self) -> None: ...


class _PostgresSink:
    """asyncpg pipelines an executemany of one prepared statement itself."""

    def __init__(self, engine: AsyncEngine, sql: str) -> None:
        self._engine = engine
        self._sql = sql

    async def insert(self, rows: list[Row]) -> None:
        async with self._engine.begin() as connection:
            await connection.exec_driver_sql(self._sql, rows)

    def close(self) -> None:
        pass


class _SQLiteSink:
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


class BatchWriter:
    """Owned by the app; started on first use, stopped (after a flush) by :meth:`close`."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        max_queued: int = MAX_QUEUED_REQUESTS,
        max_rows: int = MAX_ROWS_PER_TRANSACTION,
        sqlite_rows_per_statement: int = SQLITE_ROWS_PER_STATEMENT,
    ) -> None:
        dialect = engine.dialect
        compiled = insert_readings(dialect.name).compile(dialect=dialect, column_keys=COLUMNS)
        if not dialect.positional or tuple(compiled.positiontup or ()) != COLUMNS:
            raise ValueError(f"expected positional parameters {COLUMNS}: {compiled}")
        self._sink: _Sink = (
            _SQLiteSink(engine, str(compiled), sqlite_rows_per_statement)
            if dialect.name == "sqlite"
            else _PostgresSink(engine, str(compiled))
        )
        device_type = Reading.__table__.c.device_id.type
        self._device_param = device_type.dialect_impl(dialect).bind_processor(dialect)
        self._max_queued = max_queued
        self._max_rows = max_rows
        self._queue: asyncio.Queue[_Job] | None = None
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    def rows(self, device_id: uuid.UUID, readings: Iterable[ReadingIn]) -> list[Row]:
        """The rows to :meth:`write` for ``readings`` of one device."""
        device = self._device_param(device_id) if self._device_param else device_id
        return [(device, r.metric, r.ts, r.value) for r in readings]

    async def write(self, rows: list[Row]) -> None:
        """Return once ``rows`` are committed; raise what the database raised otherwise."""
        if self._closed:
            raise WriterClosedError("the telemetry writer is closed")
        if not rows:
            return
        queue = self._started()
        job = _Job(rows)
        await queue.put(job)  # waits while the queue is full: backpressure, never a drop
        await job.done

    async def close(self) -> None:
        """Refuse new rows, commit everything queued, then stop the background task."""
        self._closed = True
        task, queue, loop = self._task, self._queue, self._loop
        self._task = self._queue = self._loop = None
        # Unless the loop the task ran on is gone (its requests all finished with it).
        if task and queue and not task.done() and loop is asyncio.get_running_loop():
            await queue.join()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._sink.close()

    def _started(self) -> asyncio.Queue[_Job]:
        loop = asyncio.get_running_loop()
        if self._queue is None or self._task is None or self._task.done() or self._loop is not loop:
            self._queue = asyncio.Queue(self._max_queued)
            self._loop = loop
            self._task = loop.create_task(self._run(self._queue), name="telemetry-writer")
        return self._queue

    async def _run(self, queue: asyncio.Queue[_Job]) -> None:
        while True:
            jobs = [await queue.get()]
            count = len(jobs[0].rows)
            while count < self._max_rows and not queue.empty():
                job = queue.get_nowait()
                jobs.append(job)
                count += len(job.rows)
            try:
                await self._commit(jobs)
            finally:
                for _ in jobs:
                    queue.task_done()

    async def _commit(self, jobs: list[_Job]) -> None:
        try:
            await self._insert_rows(jobs)
        except Exception as exc:
            if len(jobs) == 1:
                _settle(jobs[0], exc)
                return
            log.warning("telemetry batch failed, retrying per request", exc_info=exc)
            for job in jobs:
                try:
                    await self._insert_rows([job])
                except Exception as alone:
                    _settle(job, alone)
                else:
                    _settle(job, None)
        else:
            for job in jobs:
                _settle(job, None)

    async def _insert_rows(self, jobs: list[_Job]) -> None:
        rows = jobs[0].rows if len(jobs) == 1 else [row for job in jobs for row in job.rows]
        await self._sink.insert(rows)


def _settle(job: _Job, error: BaseException | None) -> None:
    # A request whose client went away has cancelled its future: nobody is waiting.
    if job.done.done():
        return
    if error is None:
        job.done.set_result(None)
    else:
        job.done.set_exception(error)


def install_writer(app: FastAPI, engine: AsyncEngine) -> BatchWriter:
    writer = BatchWriter(engine)
    app.state.telemetry_writer = writer
    return writer


def writer_of(app: FastAPI) -> BatchWriter:
    writer: BatchWriter = app.state.telemetry_writer
    return writer


async def get_writer(request: Request) -> BatchWriter:
    # async: a plain def dependency would be run on a worker thread, for every request.
    return writer_of(request.app)
