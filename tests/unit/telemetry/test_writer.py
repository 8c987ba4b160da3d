"""The group-commit writer: shared transactions, failures that acknowledge nothing, backpressure,
and a clean stop."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from iotwarden.accounts.models import User
from iotwarden.context import AppContext
from iotwarden.devices.models import Device
from iotwarden.telemetry.models import Reading
from iotwarden.telemetry.schemas import ReadingIn
from iotwarden.telemetry.sinks import Row
from iotwarden.telemetry.writer import BatchWriter, WriterClosedError, _Job

TS = 1_700_000_000_000


@pytest.fixture
async def device_id(ctx: AppContext) -> uuid.UUID:
    async with ctx.sessions() as db:
        user = User(email="writer@example.com", password_hash="unused")
        db.add(user)
        await db.flush()
        device = Device(owner_id=user.id, name="sensor", secret_hash="0" * 64)
        db.add(device)
        await db.commit()
        return device.id


def rows(writer: BatchWriter, device_id: uuid.UUID, n: int, start: int = 0) -> list[Row]:
    readings = [ReadingIn(ts=TS + start + i, metric="m", value=float(i)) for i in range(n)]
    return writer.rows(device_id, readings)


async def stored(ctx: AppContext) -> int:
    async with ctx.sessions() as db:
        return int(await db.scalar(select(func.count()).select_from(Reading)) or 0)


class RecordingWriter(BatchWriter):
    """Records the number of requests in each transaction it runs."""

    def __init__(self, engine: AsyncEngine, **options: Any) -> None:
        super().__init__(engine, **options)
        self.transactions: list[int] = []

    async def _insert_rows(self, jobs: list[_Job]) -> None:
        self.transactions.append(len(jobs))
        await super()._insert_rows(jobs)


async def test_concurrent_writes_share_a_transaction(ctx: AppContext, device_id: uuid.UUID) -> None:
    writer = RecordingWriter(ctx.engine)
    await asyncio.gather(
        *(writer.write(rows(writer, device_id, 100, start=n * 100)) for n in range(20))
    )
    assert await stored(ctx) == 2000
    assert sum(writer.transactions) == 20
    assert len(writer.transactions) < 20
    await writer.close()


async def test_transactions_are_capped_in_rows(ctx: AppContext, device_id: uuid.UUID) -> None:
    writer = RecordingWriter(ctx.engine, max_rows=250)
    await asyncio.gather(
        *(writer.write(rows(writer, device_id, 100, start=n * 100)) for n in range(10))
    )
    assert await stored(ctx) == 1000
    # A transaction stops taking requests once it holds 250 rows or more: at most 3 of 100.
    assert max(writer.transactions) <= 3
    assert len(writer.transactions) >= 4
    await writer.close()


async def test_statements_split_inside_one_transaction(
    ctx: AppContext, device_id: uuid.UUID
) -> None:
    writer = BatchWriter(ctx.engine, sqlite_rows_per_statement=3)
    await writer.write(rows(writer, device_id, 10))
    assert await stored(ctx) == 10
    # The bad row is in the last statement: the earlier statements roll back with it.
    mixed = rows(writer, device_id, 7, start=100) + rows(writer, uuid.uuid4(), 1, start=200)
    with pytest.raises(IntegrityError):
        await writer.write(mixed)
    assert await stored(ctx) == 10
    await writer.close()


async def test_a_bad_request_fails_alone(
    ctx: AppContext, device_id: uuid.UUID, caplog: pytest.LogCaptureFixture
) -> None:
    writer = BatchWriter(ctx.engine)
    unknown_device = uuid.uuid4()  # violates the foreign key
    results = await asyncio.gather(
        writer.write(rows(writer, device_id, 10)),
        writer.write(rows(writer, unknown_device, 10)),
        writer.write(rows(writer, device_id, 10, start=10)),
        return_exceptions=True,
    )
    assert results[0] is None
    assert isinstance(results[1], IntegrityError)
    assert results[2] is None
    assert await stored(ctx) == 20
    assert "retrying per request" in caplog.text  # they did share the failed transaction
    await writer.close()


async def test_a_failed_batch_acknowledges_nothing(ctx: AppContext, device_id: uuid.UUID) -> None:
    writer = BatchWriter(ctx.engine)
    # One good row and one bad row in the same request: the request fails as a whole.
    mixed = rows(writer, device_id, 1) + rows(writer, uuid.uuid4(), 1, start=1)
    with pytest.raises(IntegrityError):
        await writer.write(mixed)
    assert await stored(ctx) == 0
    # The writer survives a failure.
    await writer.write(rows(writer, device_id, 3))
    assert await stored(ctx) == 3
    await writer.close()


async def test_duplicates_are_ignored(ctx: AppContext, device_id: uuid.UUID) -> None:
    writer = BatchWriter(ctx.engine)
    await writer.write(rows(writer, device_id, 5))
    await asyncio.gather(
        writer.write(rows(writer, device_id, 5)), writer.write(rows(writer, device_id, 7))
    )
    assert await stored(ctx) == 7
    await writer.close()


class GatedWriter(BatchWriter):
    """Holds every transaction until the test opens the gate; records the batches it saw."""

    def __init__(self, engine: AsyncEngine, max_queued: int) -> None:
        super().__init__(engine, max_queued=max_queued)
        self.gate = asyncio.Event()
        self.batches: list[int] = []

    async def _insert_rows(self, jobs: list[_Job]) -> None:
        await self.gate.wait()
        self.batches.append(len(jobs))
        await super()._insert_rows(jobs)


async def test_a_full_queue_makes_writers_wait_not_fail(
    ctx: AppContext, device_id: uuid.UUID
) -> None:
    writer = GatedWriter(ctx.engine, max_queued=2)
    tasks = [
        asyncio.create_task(writer.write(rows(writer, device_id, 10, start=n * 10)))
        for n in range(8)
    ]
    for _ in range(20):
        await asyncio.sleep(0)
    # One job is in the held transaction, two fill the queue; the others wait for room.
    assert not any(task.done() for task in tasks)
    assert writer._queue is not None
    assert writer._queue.qsize() == 2
    writer.gate.set()
    await asyncio.gather(*tasks)
    assert await stored(ctx) == 80
    assert max(writer.batches) <= 3
    assert sum(writer.batches) == 8
    await writer.close()


async def test_close_flushes_what_is_queued_then_refuses(
    ctx: AppContext, device_id: uuid.UUID
) -> None:
    writer = GatedWriter(ctx.engine, max_queued=16)
    tasks = [
        asyncio.create_task(writer.write(rows(writer, device_id, 10, start=n * 10)))
        for n in range(5)
    ]
    await asyncio.sleep(0)
    closing = asyncio.create_task(writer.close())
    await asyncio.sleep(0)
    assert not closing.done()
    writer.gate.set()
    await closing
    assert all(task.done() and task.exception() is None for task in tasks)
    assert await stored(ctx) == 50
    with pytest.raises(WriterClosedError):
        await writer.write(rows(writer, device_id, 1, start=1000))
    await writer.close()  # idempotent


async def test_close_without_use_is_a_no_op(ctx: AppContext) -> None:
    writer = BatchWriter(ctx.engine)
    await writer.close()
    with pytest.raises(WriterClosedError):
        await writer.write(rows(writer, uuid.uuid4(), 1))
