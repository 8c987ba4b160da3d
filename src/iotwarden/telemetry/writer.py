"""Group commit for telemetry: many requests, one transaction, and no 2xx before the commit.

Each ingest request hands its rows to the app's :class:`BatchWriter` and awaits a future.
One background task takes everything queued, inserts it in one transaction, commits, and
only then resolves the futures. Under load a transaction carries the rows of many requests,
so SQLite pays one fsync for all of them.

How the rows reach the database depends on its dialect: see :mod:`iotwarden.telemetry.sinks`.

A failed transaction acknowledges nothing: if several requests shared it, each is retried
alone so that one bad request (a device deleted meanwhile) cannot fail the others, and every
request learns its own outcome. The queue is bounded: when the database falls behind,
requests wait for room instead of being dropped or piling up in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from fastapi import FastAPI, Request
from sqlalchemy.ext.asyncio import AsyncEngine

# From db.models: every model loaded, so the foreign key gives device_id its type.
from iotwarden.db.models import Reading
from iotwarden.telemetry.schemas import ReadingIn
from iotwarden.telemetry.sinks import SQLITE_ROWS_PER_STATEMENT, Row, open_sink

log = logging.getLogger("iotwarden.telemetry")

# Requests waiting in the queue; each holds at most 1000 readings.
MAX_QUEUED_REQUESTS = 256
# Rows per transaction: large enough to amortize the commit, small enough to keep latency.
MAX_ROWS_PER_TRANSACTION = 20_000


class WriterClosedError(RuntimeError):
    """Rows were submitted after :meth:`BatchWriter.close`."""


@dataclass(slots=True)
class _Job:
    rows: list[Row]
    done: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


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
        self._sink = open_sink(engine, sqlite_rows_per_statement)
        dialect = engine.dialect
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
