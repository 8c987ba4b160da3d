"""Telemetry and commands through the real app on SQLite and PostgreSQL alike.

What differs between the two: ON CONFLICT DO NOTHING (two dialect-specific inserts), the
bucket arithmetic and GROUP BY with bound parameters, float aggregates, and the
conditional updates that settle a command's state.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select, update

from iotwarden.commands.models import Command
from iotwarden.context import AppContext
from iotwarden.telemetry.models import Reading
from tests.conftest import Account, make_device

MINUTE_MS = 60_000
BASE_MS = (int(time.time() * 1000) // MINUTE_MS - 120) * MINUTE_MS


@pytest.fixture
def state_url() -> None:
    """Overrides conftest: the state store plays no part here, so one backend."""
    return None


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat()


async def test_ingest_resend_and_aggregate(
    ctx: AppContext, client: httpx.AsyncClient, alice: Account
) -> None:
    device = await make_device(ctx, client, alice)
    url = f"/api/v1/devices/{device.id}/telemetry"
    # Minute 0: 0.1, 0.2, 0.3; minute 2: 5 and the largest magnitude; minute 1: nothing.
    readings = [
        {"ts": BASE_MS + 10, "metric": "temp", "value": 0.1},
        {"ts": iso(BASE_MS + 20_000), "metric": "temp", "value": 0.2},
        {"ts": BASE_MS + 59_999, "metric": "temp", "value": 0.3},
        {"ts": BASE_MS + 2 * MINUTE_MS, "metric": "temp", "value": 5},
        {"ts": BASE_MS + 2 * MINUTE_MS + 1, "metric": "temp", "value": -1e100},
    ]
    for _ in range(2):
        response = await client.post(url, json={"readings": readings}, headers=device.headers)
        assert response.status_code == 201, response.text
        assert response.json() == {"accepted": 5}
    async with ctx.sessions() as db:
        assert await db.scalar(select(func.count()).select_from(Reading)) == 5

    window = {"start": iso(BASE_MS), "end": iso(BASE_MS + 10 * MINUTE_MS)}
    raw = await client.get(url, params={"metric": "temp", **window}, headers=alice.headers)
    assert [r["value"] for r in raw.json()["readings"]] == [0.1, 0.2, 0.3, 5.0, -1e100]

    bucketed = await client.get(
        url, params={"metric": "temp", "bucket": 60, **window}, headers=alice.headers
    )
    assert bucketed.status_code == 200, bucketed.text
    buckets = bucketed.json()["buckets"]
    assert [b["start"] for b in buckets] == [
        datetime.fromtimestamp((BASE_MS + m * MINUTE_MS) / 1000, UTC)
        .isoformat()
        .replace("+00:00", "Z")
        for m in (0, 2)
    ]
    first, second = buckets
    assert (first["min"], first["max"], first["count"]) == (0.1, 0.3, 3)
    assert first["avg"] == pytest.approx(0.2, rel=1e-12)
    assert (second["min"], second["max"], second["count"]) == (-1e100, 5.0, 2)
    assert second["avg"] == pytest.approx(-5e99, rel=1e-12)


async def test_concurrent_batches_commit_together(
    ctx: AppContext, client: httpx.AsyncClient, alice: Account
) -> None:
    device = await make_device(ctx, client, alice)
    url = f"/api/v1/devices/{device.id}/telemetry"

    async def post(n: int) -> httpx.Response:
        batch = [{"ts": BASE_MS + n * 100 + i, "metric": "m", "value": i} for i in range(100)]
        return await client.post(url, json={"readings": batch}, headers=device.headers)

    responses = await asyncio.gather(*(post(n) for n in range(20)))
    assert [r.status_code for r in responses] == [201] * 20
    async with ctx.sessions() as db:
        assert await db.scalar(select(func.count()).select_from(Reading)) == 2000


async def test_command_life_cycle(
    ctx: AppContext, client: httpx.AsyncClient, alice: Account
) -> None:
    device = await make_device(ctx, client, alice)
    url = f"/api/v1/devices/{device.id}/commands"
    ids = []
    for name in ("a", "b", "c"):
        created = await client.post(url, json={"name": name}, headers=alice.headers)
        assert created.status_code == 201, created.text
        ids.append(created.json()["id"])
    fetched = await client.get(url + "/pending", headers=device.headers)
    assert [item["id"] for item in fetched.json()["items"]] == ids
    assert {item["status"] for item in fetched.json()["items"]} == {"delivered"}
    async with ctx.sessions() as db:
        await db.execute(
            update(Command)
            .where(Command.id == uuid.UUID(ids[2]))
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        await db.commit()
    acks = await asyncio.gather(
        *(
            client.post(f"{url}/{ids[0]}/ack", json={"status": status}, headers=device.headers)
            for status in ("succeeded", "failed")
        )
    )
    assert sorted(r.status_code for r in acks) == [200, 409]
    expired = await client.post(
        f"{url}/{ids[2]}/ack", json={"status": "failed"}, headers=device.headers
    )
    assert expired.status_code == 409
    listing = await client.get(url, headers=alice.headers)
    statuses = {item["name"]: item["status"] for item in listing.json()["items"]}
    assert statuses["b"] == "delivered"
    assert statuses["c"] == "expired"
    assert statuses["a"] in ("succeeded", "failed")
    only_expired = await client.get(url, params={"status": "expired"}, headers=alice.headers)
    assert [item["name"] for item in only_expired.json()["items"]] == ["c"]
