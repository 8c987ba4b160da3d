"""Telemetry: a device reports, its users read back raw or bucketed; bad input stores nothing."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from iotwarden.context import AppContext
from iotwarden.sharing.models import Share
from iotwarden.telemetry.models import Reading
from tests.conftest import Account, DeviceHandle, make_device

MINUTE_MS = 60_000
# A whole minute, well in the past: buckets of 60 s start exactly here.
BASE_MS = (int(time.time() * 1000) // MINUTE_MS - 120) * MINUTE_MS


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


def path(device: DeviceHandle) -> str:
    return f"/api/v1/devices/{device.id}/telemetry"


def window(start_ms: int = BASE_MS - MINUTE_MS, minutes: int = 60) -> dict[str, str]:
    return {"start": iso(start_ms), "end": iso(start_ms + minutes * MINUTE_MS)}


async def stored(ctx: AppContext, device: DeviceHandle | None = None) -> int:
    stmt = select(func.count()).select_from(Reading)
    if device is not None:
        stmt = stmt.where(Reading.device_id == uuid.UUID(device.id))
    async with ctx.sessions() as db:
        return int(await db.scalar(stmt) or 0)


async def post(
    client: httpx.AsyncClient, device: DeviceHandle, readings: list[dict[str, Any]]
) -> httpx.Response:
    return await client.post(path(device), json={"readings": readings}, headers=device.headers)


@pytest.fixture
async def device(ctx: AppContext, client: httpx.AsyncClient, alice: Account) -> DeviceHandle:
    return await make_device(ctx, client, alice)


def assert_problem(response: httpx.Response, status: int | None = None) -> None:
    assert 400 <= response.status_code < 500, response.text
    if status is not None:
        assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"


async def test_ingest_then_read_back_raw_and_bucketed(
    ctx: AppContext, client: httpx.AsyncClient, alice: Account, device: DeviceHandle
) -> None:
    # Minute 0: 1, 2, 6 (RFC 3339, two offsets); minute 1: 10 and -4.5; minute 3: 7.25.
    readings = [
        {"ts": iso(BASE_MS + 30_000).replace("+00:00", "Z"), "metric": "temp", "value": 6},
        {"ts": BASE_MS, "metric": "temp", "value": 1.0},
        {"ts": BASE_MS + 1_500, "metric": "temp", "value": 2},
        {"ts": BASE_MS + MINUTE_MS + 59_999, "metric": "temp", "value": 10.0},
        {"ts": BASE_MS + MINUTE_MS, "metric": "temp", "value": -4.5},
        {
            "ts": datetime.fromtimestamp((BASE_MS + 3 * MINUTE_MS) / 1000, UTC)
            .astimezone(timezone(timedelta(hours=2)))
            .isoformat(),
            "metric": "temp",
            "value": 7.25,
        },
        {"ts": BASE_MS, "metric": "humidity", "value": 55.5},
    ]
    response = await post(client, device, readings)
    assert response.status_code == 201, response.text
    assert response.json() == {"accepted": 7}
    assert await stored(ctx, device) == 7

    raw = await client.get(
        path(device), params={"metric": "temp", **window()}, headers=alice.headers
    )
    assert raw.status_code == 200, raw.text
    body = raw.json()
    assert body["metric"] == "temp"
    assert body["truncated"] is False
    assert [r["value"] for r in body["readings"]] == [1.0, 2.0, 6.0, -4.5, 10.0, 7.25]
    got_ms = [int(datetime.fromisoformat(r["ts"]).timestamp() * 1000) for r in body["readings"]]
    expected_offsets = [0, 1_500, 30_000, 60_000, 119_999, 180_000]
    assert got_ms == [BASE_MS + offset for offset in expected_offsets]

    bucketed = await client.get(
        path(device), params={"metric": "temp", "bucket": 60, **window()}, headers=alice.headers
    )
    assert bucketed.status_code == 200, bucketed.text
    assert bucketed.json()["bucket"] == 60
    buckets = bucketed.json()["buckets"]
    assert [datetime.fromisoformat(b["start"]) for b in buckets] == [
        datetime.fromtimestamp((BASE_MS + m * MINUTE_MS) / 1000, UTC) for m in (0, 1, 3)
    ]
    assert [(b["min"], b["max"], b["avg"], b["count"]) for b in buckets] == [
        (1.0, 6.0, 3.0, 3),
        (-4.5, 10.0, 2.75, 2),
        (7.25, 7.25, 7.25, 1),
    ]

    wide = await client.get(
        path(device), params={"metric": "temp", "bucket": 3600, **window()}, headers=alice.headers
    )
    hours = wide.json()["buckets"]
    assert sum(b["count"] for b in hours) == 6
    assert min(b["min"] for b in hours) == -4.5
    assert max(b["max"] for b in hours) == 10.0

    other = await client.get(
        path(device), params={"metric": "humidity", **window()}, headers=alice.headers
    )
    assert [r["value"] for r in other.json()["readings"]] == [55.5]


async def test_range_is_half_open_and_raw_reads_are_bounded(
    ctx: AppContext, client: httpx.AsyncClient, alice: Account, device: DeviceHandle
) -> None:
    readings = [{"ts": BASE_MS + i * 1000, "metric": "count", "value": i} for i in range(5)]
    assert (await post(client, device, readings)).status_code == 201
    params = {"metric": "count", "start": iso(BASE_MS + 1000), "end": iso(BASE_MS + 4000)}
    inner = await client.get(path(device), params=params, headers=alice.headers)
    assert [r["value"] for r in inner.json()["readings"]] == [1.0, 2.0, 3.0]
    limited = await client.get(
        path(device), params={"metric": "count", "limit": 3, **window()}, headers=alice.headers
    )
    assert limited.json()["truncated"] is True
    assert [r["value"] for r in limited.json()["readings"]] == [0.0, 1.0, 2.0]
    exact = await client.get(
        path(device), params={"metric": "count", "limit": 5, **window()}, headers=alice.headers
    )
    assert exact.json()["truncated"] is False
    assert len(exact.json()["readings"]) == 5


async def test_resending_a_batch_is_idempotent(
    ctx: AppContext, client: httpx.AsyncClient, alice: Account, device: DeviceHandle
) -> None:
    readings: list[dict[str, Any]] = [
        {"ts": BASE_MS + i, "metric": "temp", "value": float(i)} for i in range(100)
    ]
    first = await post(client, device, readings)
    assert first.status_code == 201
    assert await stored(ctx, device) == 100
    # The same readings again, half as RFC 3339 and with other values: the first write wins.
    again = [
        {**r, "ts": iso(r["ts"]) if i % 2 else r["ts"], "value": -1.0}
        for i, r in enumerate(readings)
    ]
    second = await post(client, device, again)
    assert second.status_code == 201
    assert second.json() == {"accepted": 100}
    assert await stored(ctx, device) == 100
    raw = await client.get(
        path(device), params={"metric": "temp", "limit": 200, **window()}, headers=alice.headers
    )
    assert [r["value"] for r in raw.json()["readings"]] == [float(i) for i in range(100)]
    # Duplicates inside one batch are one reading too.
    dup = await post(client, device, [{"ts": BASE_MS - 5, "metric": "temp", "value": 1}] * 3)
    assert dup.status_code == 201
    assert await stored(ctx, device) == 101


async def test_at_most_1000_readings_per_batch(
    ctx: AppContext, client: httpx.AsyncClient, device: DeviceHandle
) -> None:
    readings = [{"ts": BASE_MS + i, "metric": "m", "value": 1.0} for i in range(1001)]
    too_many = await post(client, device, readings)
    assert_problem(too_many, 422)
    assert (await post(client, device, [])).status_code == 422
    assert await stored(ctx) == 0
    full = await post(client, device, readings[:1000])
    assert full.status_code == 201
    assert full.json() == {"accepted": 1000}
    assert await stored(ctx) == 1000


def _bad_readings() -> dict[str, Any]:
    now_ms = int(time.time() * 1000)
    good = {"ts": BASE_MS, "metric": "temp", "value": 1.5}
    return {
        "metric uppercase": {**good, "metric": "Temp"},
        "metric starts with digit": {**good, "metric": "1temp"},
        "metric with dash": {**good, "metric": "temp-c"},
        "metric with newline": {**good, "metric": "temp\n"},
        "metric with sql": {**good, "metric": "t'; DROP TABLE readings;--"},
        "metric too long": {**good, "metric": "t" * 65},
        "metric empty": {**good, "metric": ""},
        "metric missing": {"ts": BASE_MS, "value": 1.5},
        "value missing": {"ts": BASE_MS, "metric": "temp"},
        "value string": {**good, "value": "1.5"},
        "value bool": {**good, "value": True},
        "value null": {**good, "value": None},
        "value huge int": {**good, "value": 10**400},
        "value beyond 1e100": {**good, "value": 1.0000001e100},
        "value below -1e100": {**good, "value": -1e101},
        "ts future": {**good, "ts": now_ms + 301_000},
        "ts future rfc3339": {**good, "ts": iso(now_ms + 3_600_000)},
        "ts naive": {**good, "ts": "2024-05-01T12:00:00"},
        "ts date only": {**good, "ts": "2024-05-01"},
        "ts before 2000": {**good, "ts": "1999-12-31T23:59:59Z"},
        "ts before 2000 ms": {**good, "ts": 946_684_799_999},
        "ts seconds not ms": {**good, "ts": now_ms // 1000},
        "ts huge": {**good, "ts": 10**30},
        "ts negative": {**good, "ts": -1},
        "ts float": {**good, "ts": float(BASE_MS)},
        "ts numeric string": {**good, "ts": str(BASE_MS)},
        "ts garbage": {**good, "ts": "yesterday"},
        "extra field": {**good, "unit": "C"},
        "not an object": [BASE_MS, "temp", 1.5],
    }


@pytest.mark.parametrize("case", sorted(_bad_readings()))
async def test_bad_reading_rejects_the_whole_batch(
    case: str, ctx: AppContext, client: httpx.AsyncClient, device: DeviceHandle
) -> None:
    good = {"ts": BASE_MS + 1, "metric": "temp", "value": 2.5}
    response = await post(client, device, [good, _bad_readings()[case]])
    assert_problem(response, 422)
    assert await stored(ctx) == 0


async def test_errors_name_the_field_as_every_route_does(
    client: httpx.AsyncClient, device: DeviceHandle
) -> None:
    # Ingest parses its body itself (IngestRoute); its errors keep FastAPI's form.
    response = await post(client, device, [{"ts": BASE_MS, "metric": "Bad Name", "value": 1}])
    assert_problem(response, 422)
    (error,) = response.json()["errors"]
    assert error["loc"] == ["body", "readings", "0", "metric"]
    assert error["type"] == "string_pattern_mismatch"
    assert "input" not in error
    missing = await client.post(path(device), json={}, headers=device.headers)
    assert missing.json()["errors"][0]["loc"] == ["body", "readings"]
    malformed = await client.post(
        path(device),
        content=b'{"readings": [',
        headers={**device.headers, "content-type": "application/json"},
    )
    assert_problem(malformed, 400)


@pytest.mark.parametrize(
    "literal", ["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "9" * 400 + ".0"]
)
async def test_non_finite_values_in_raw_json_are_refused(
    literal: str, ctx: AppContext, client: httpx.AsyncClient, device: DeviceHandle
) -> None:
    raw = (
        f'{{"readings":[{{"ts":{BASE_MS},"metric":"t","value":1}},'
        f'{{"ts":{BASE_MS + 1},"metric":"t","value":{literal}}}]}}'
    )
    response = await client.post(
        path(device),
        content=raw.encode(),
        headers={**device.headers, "content-type": "application/json"},
    )
    assert_problem(response)
    assert "Traceback" not in response.text
    assert await stored(ctx) == 0


async def test_extra_top_level_field_and_non_json_are_refused(
    ctx: AppContext, client: httpx.AsyncClient, device: DeviceHandle
) -> None:
    body = {"readings": [{"ts": BASE_MS, "metric": "t", "value": 1}], "device_id": device.id}
    assert_problem(await client.post(path(device), json=body, headers=device.headers), 422)
    as_text = await client.post(
        path(device),
        content=json.dumps(body).encode(),
        headers={**device.headers, "content-type": "text/plain"},
    )
    assert_problem(as_text, 415)
    assert await stored(ctx) == 0


async def test_future_bound_follows_settings(
    ctx: AppContext, client: httpx.AsyncClient, device: DeviceHandle
) -> None:
    bound_ms = ctx.settings.telemetry_max_future_seconds * 1000
    near = int(time.time() * 1000) + bound_ms - 30_000
    ok = await post(client, device, [{"ts": near, "metric": "t", "value": 1}])
    assert ok.status_code == 201, ok.text
    late = await post(client, device, [{"ts": near + 60_000, "metric": "t", "value": 1}])
    assert_problem(late, 422)
    assert late.json()["errors"][0]["loc"] == ["body", "readings", "0", "ts"]
    assert await stored(ctx) == 1


async def test_only_the_device_itself_may_report(
    ctx: AppContext, client: httpx.AsyncClient, alice: Account, bob: Account, device: DeviceHandle
) -> None:
    other = await make_device(ctx, client, bob, "other")
    body = {"readings": [{"ts": BASE_MS, "metric": "t", "value": 1}]}
    as_owner = await client.post(path(device), json=body, headers=alice.headers)
    assert_problem(as_owner, 404)
    as_other_device = await client.post(path(device), json=body, headers=other.headers)
    assert_problem(as_other_device, 404)
    anonymous = await client.post(path(device), json=body)
    assert_problem(anonymous, 401)
    unknown = await client.post(
        f"/api/v1/devices/{uuid.uuid4()}/telemetry", json=body, headers=device.headers
    )
    assert_problem(unknown, 404)
    assert await stored(ctx) == 0


async def test_who_may_read(
    ctx: AppContext, client: httpx.AsyncClient, alice: Account, bob: Account, device: DeviceHandle
) -> None:
    assert (await post(client, device, [{"ts": BASE_MS, "metric": "t", "value": 1}])).is_success
    params = {"metric": "t", **window()}
    as_device = await client.get(path(device), params=params, headers=device.headers)
    assert_problem(as_device, 404)
    stranger = await client.get(path(device), params=params, headers=bob.headers)
    assert_problem(stranger, 404)
    async with ctx.sessions() as db:
        db.add(Share(device_id=uuid.UUID(device.id), grantee_email=bob.email, role="viewer"))
        await db.commit()
    viewer = await client.get(path(device), params=params, headers=bob.headers)
    assert viewer.status_code == 200
    assert [r["value"] for r in viewer.json()["readings"]] == [1.0]


@pytest.mark.parametrize(
    ("case", "params"),
    [
        ("missing metric", {"start": iso(BASE_MS), "end": iso(BASE_MS + 1000)}),
        ("bad metric", {"metric": "T;--", "start": iso(BASE_MS), "end": iso(BASE_MS + 1000)}),
        ("missing start", {"metric": "t", "end": iso(BASE_MS)}),
        ("naive start", {"metric": "t", "start": "2024-01-01T00:00:00", "end": iso(BASE_MS)}),
        ("end before start", {"metric": "t", "start": iso(BASE_MS), "end": iso(BASE_MS - 1)}),
        ("empty range", {"metric": "t", "start": iso(BASE_MS), "end": iso(BASE_MS)}),
        (
            "span over 31 days",
            {"metric": "t", "start": iso(BASE_MS), "end": iso(BASE_MS + 31 * 86_400_000 + 1)},
        ),
        ("bucket too small", {"metric": "t", "bucket": 59, **window()}),
        ("bucket too large", {"metric": "t", "bucket": 86_401, **window()}),
        ("limit too large", {"metric": "t", "limit": 10_001, **window()}),
        ("limit zero", {"metric": "t", "limit": 0, **window()}),
    ],
)
async def test_read_query_is_validated(
    case: str,
    params: dict[str, Any],
    client: httpx.AsyncClient,
    alice: Account,
    device: DeviceHandle,
) -> None:
    response = await client.get(path(device), params=params, headers=alice.headers)
    assert_problem(response, 422)


async def test_a_31_day_span_is_allowed(
    client: httpx.AsyncClient, alice: Account, device: DeviceHandle
) -> None:
    params = {"metric": "t", "start": iso(BASE_MS), "end": iso(BASE_MS + 31 * 86_400_000)}
    response = await client.get(
        path(device), params={**params, "bucket": 86_400}, headers=alice.headers
    )
    assert response.status_code == 200
    assert response.json()["buckets"] == []


async def test_concurrent_batches_are_all_committed(
    ctx: AppContext, client: httpx.AsyncClient, device: DeviceHandle
) -> None:
    batches = [
        [{"ts": BASE_MS + n * 1000 + i, "metric": "load", "value": float(i)} for i in range(50)]
        for n in range(20)
    ]
    responses = await asyncio.gather(*(post(client, device, batch) for batch in batches))
    assert [r.status_code for r in responses] == [201] * 20
    assert sum(r.json()["accepted"] for r in responses) == 1000
    # Acknowledged means committed: visible to a fresh session at once.
    assert await stored(ctx, device) == 1000
