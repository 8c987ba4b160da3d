"""Timestamps: two accepted forms, one stored form (epoch milliseconds)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from iotwarden.telemetry.schemas import MIN_TS_MS, ReadingIn, from_ms, to_ms

MS = 1_704_067_200_123  # 2024-01-01T00:00:00.123Z


@pytest.mark.parametrize(
    "ts",
    [
        MS,
        "2024-01-01T00:00:00.123Z",
        "2024-01-01t00:00:00.123z",
        "2024-01-01 00:00:00.123+00:00",
        "2024-01-01T02:00:00.123+02:00",
        "2023-12-31T19:30:00.123-04:30",
        "2024-01-01T00:00:00.123999Z",  # below a millisecond: floored
    ],
)
def test_every_form_names_the_same_millisecond(ts: int | str) -> None:
    assert ReadingIn.model_validate({"ts": ts, "metric": "t", "value": 1}).ts == MS


def test_integer_values_are_floats() -> None:
    reading = ReadingIn.model_validate({"ts": MS, "metric": "a.b_c9", "value": 3})
    assert reading.value == 3.0
    assert isinstance(reading.value, float)


def test_the_lower_bound_is_inclusive() -> None:
    assert ReadingIn.model_validate({"ts": MIN_TS_MS, "metric": "t", "value": 0}).ts == MIN_TS_MS
    at_2000 = ReadingIn.model_validate({"ts": "2000-01-01T00:00:00Z", "metric": "t", "value": 0})
    assert at_2000.ts == MIN_TS_MS
    with pytest.raises(ValidationError):
        ReadingIn.model_validate({"ts": "2000-01-01T00:59:59+01:00", "metric": "t", "value": 0})


def test_milliseconds_round_trip_exactly() -> None:
    for ms in (MIN_TS_MS, MS, 4_102_444_800_001):
        assert to_ms(from_ms(ms)) == ms
    moment = datetime(2031, 5, 6, 7, 8, 9, 10_000, tzinfo=timezone(timedelta(hours=-3)))
    assert from_ms(to_ms(moment)) == moment.astimezone(UTC)
