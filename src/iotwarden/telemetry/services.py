"""Telemetry: rows to store from a validated batch, and the two ways to read them back."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence

from sqlalchemy import Row, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from iotwarden.http.problems import Unprocessable
from iotwarden.telemetry.models import Reading
from iotwarden.telemetry.schemas import TelemetryBatch
from iotwarden.telemetry.writer import BatchWriter


async def ingest(
    writer: BatchWriter, device_id: uuid.UUID, batch: TelemetryBatch, max_future_seconds: int
) -> int:
    """Store the batch and return how many readings it held, once they are committed.

    Nothing is stored if one reading claims to come from too far in the future (422).
    """
    readings = batch.readings
    limit = int(time.time() * 1000) + max_future_seconds * 1000
    if max(reading.ts for reading in readings) > limit:
        late = next(i for i, reading in enumerate(readings) if reading.ts > limit)
        raise Unprocessable(
            "See `errors`.",
            errors=[
                {
                    "loc": ["body", "readings", str(late), "ts"],
                    "type": "future_timestamp",
                    "msg": f"more than {max_future_seconds} seconds in the future",
                }
            ],
        )
    await writer.write(writer.rows(device_id, readings))
    return len(readings)


async def raw(
    db: AsyncSession, device_id: uuid.UUID, metric: str, start_ms: int, end_ms: int, limit: int
) -> tuple[Sequence[Row[int, float]], bool]:
    """Readings in [start, end) oldest first, at most ``limit``, and whether more matched."""
    stmt = (
        select(Reading.ts_ms, Reading.value)
        .where(
            Reading.device_id == device_id,
            Reading.metric == metric,
            Reading.ts_ms >= start_ms,
            Reading.ts_ms < end_ms,
        )
        .order_by(Reading.ts_ms)
        .limit(limit + 1)
    )
    rows = (await db.execute(stmt)).all()
    return rows[:limit], len(rows) > limit


async def buckets(
    db: AsyncSession, device_id: uuid.UUID, metric: str, start_ms: int, end_ms: int, bucket_ms: int
) -> Sequence[Row[int, float, float, float, int]]:
    """(start_ms, min, max, avg, count) per bucket with readings, in time order.

    Aggregated by the database. A bucket starts at ``ts_ms - ts_ms % bucket_ms`` (timestamps
    are positive, so this is floor division on SQLite and PostgreSQL alike). The expression
    is computed in a subquery and grouped by its column: grouping by the expression itself
    would bind ``bucket_ms`` twice, and PostgreSQL does not see two parameters as one.
    """
    in_range = (
        select(
            (Reading.ts_ms - Reading.ts_ms % bucket_ms).label("bucket_ms"),
            Reading.value.label("value"),
        )
        .where(
            Reading.device_id == device_id,
            Reading.metric == metric,
            Reading.ts_ms >= start_ms,
            Reading.ts_ms < end_ms,
        )
        .subquery()
    )
    bucket = in_range.c.bucket_ms
    value = in_range.c.value
    stmt = (
        select(
            bucket,
            func.min(value),
            func.max(value),
            func.avg(value),
            func.count(),
        )
        .group_by(bucket)
        .order_by(bucket)
    )
    return (await db.execute(stmt)).all()
