"""What a device reports and what a user reads back.

A timestamp arrives as an RFC 3339 date-time with an offset or as integer epoch
milliseconds, and leaves validation as epoch milliseconds: the form it is stored and
compared in. The bound that depends on settings (not too far in the future) is checked by
the service, see :func:`iotwarden.telemetry.services.rows_for`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    Field,
    Strict,
    StringConstraints,
)

from iotwarden.accounts.schemas import StrictInput

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_MS = timedelta(milliseconds=1)
# 2000-01-01T00:00:00Z: nothing older is telemetry, it is a device with an unset clock.
MIN_TS_MS = 946_684_800_000
# Far beyond any accepted "now + future bound"; keeps every value exact in a float64 too.
MAX_TS_MS = 2**53
MAX_READINGS = 1000
METRIC_PATTERN = r"^[a-z][a-z0-9_.]{0,63}$"

_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})"
)


def to_ms(value: datetime) -> int:
    return (value - EPOCH) // ONE_MS


def from_ms(ms: int) -> datetime:
    return EPOCH + timedelta(milliseconds=ms)


def _rfc3339_text(value: Any) -> Any:
    # Only text that is an RFC 3339 date-time with an offset: pydantic alone would also take
    # numbers and numeric strings as Unix seconds, and dates without a time.
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        raise ValueError("expected an RFC 3339 date-time with an offset, or epoch milliseconds")
    return value


def _epoch_ms(value: int | datetime) -> int:
    if type(value) is int:
        return value
    assert isinstance(value, datetime)
    ms = to_ms(value)
    if ms < MIN_TS_MS:
        raise ValueError("timestamps before 2000-01-01 are not accepted")
    return ms


if TYPE_CHECKING:
    Timestamp = int
else:
    Timestamp = Annotated[
        Annotated[int, Strict(), Field(ge=MIN_TS_MS, le=MAX_TS_MS)]
        | Annotated[AwareDatetime, BeforeValidator(_rfc3339_text)],
        AfterValidator(_epoch_ms),
    ]

Metric = Annotated[str, StringConstraints(pattern=METRIC_PATTERN)]
# Far beyond any measurement, yet small enough that sums and squares over a bucket stay
# finite: PostgreSQL raises "value out of range" on an overflowing avg() (it squares values).
MAX_ABS_VALUE = 1e100
# Strict: a boolean or a numeric string is not a measurement. Integers are taken as floats.
# json.loads turns NaN, Infinity and 1e999 into non-finite floats: refused here.
Value = Annotated[float, Strict(), Field(allow_inf_nan=False, ge=-MAX_ABS_VALUE, le=MAX_ABS_VALUE)]


class ReadingIn(StrictInput):
    ts: Timestamp = Field(description="RFC 3339 with an offset, or integer epoch milliseconds")
    metric: Metric
    value: Value


class TelemetryBatch(StrictInput):
    """Up to 1000 readings. A reading's identity is (device, metric, ts in milliseconds):
    sending one again is a no-op, so a device may safely retry a whole batch."""

    readings: Annotated[list[ReadingIn], Field(min_length=1, max_length=MAX_READINGS)]


class TelemetryAccepted(BaseModel):
    accepted: int = Field(
        description=(
            "Readings received in this batch, all of them committed. Readings already stored "
            "(a retried batch) count too: this is not the number of new rows."
        )
    )


class ReadingOut(BaseModel):
    ts: datetime
    value: float


class RawSeries(BaseModel):
    metric: str
    readings: list[ReadingOut]
    truncated: bool = Field(description="More readings matched than `limit`; narrow the range.")


class BucketOut(BaseModel):
    start: datetime
    min: float
    max: float
    avg: float
    count: int


class BucketSeries(BaseModel):
    metric: str
    bucket: int = Field(description="Bucket width in seconds; buckets without readings are omitted")
    buckets: list[BucketOut]
