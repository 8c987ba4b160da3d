"""Commands: queued by owners and operators, fetched at least once by the device, acked once."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select, update

from iotwarden.commands.models import Command
from iotwarden.context import AppContext
from iotwarden.db.base import utcnow
from iotwarden.sharing.models import Share
from tests.conftest import Account, DeviceHandle, make_device


def commands(device: DeviceHandle) -> str:
    return f"/api/v1/devices/{device.id}/commands"


def ack_path(device: DeviceHandle, command_id: str) -> str:
    return f"{commands(device)}/{command_id}/ack"


@pytest.fixture
async def device(ctx: AppContext, client: httpx.AsyncClient, alice: Account) -> DeviceHandle:
    return await make_device(ctx, client, alice)


async def share(ctx: AppContext, device: DeviceHandle, who: Account, role: str) -> None:
    async with ctx.sessions() as db:
        db.add(Share(device_id=uuid.UUID(device.id), grantee_email=who.email, role=role))
        await db.commit()


async def queue(
    client: httpx.AsyncClient, device: DeviceHandle, account: Account, **body: object
) -> dict[str, object]:
    response = await client.post(
        commands(device), json={"name": "reboot", **body}, headers=account.headers
    )
    assert response.status_code == 201, response.text
    created: dict[str, object] = response.json()
    return created


async def pending(client: httpx.AsyncClient, device: DeviceHandle) -> list[dict[str, object]]:
    response = await client.get(commands(device) + "/pending", headers=device.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, object]] = response.json()["items"]
    return items


async def expire(ctx: AppContext, command_id: object) -> None:
    async with ctx.sessions() as db:
        await db.execute(
            update(Command)
            .where(Command.id == uuid.UUID(str(command_id)))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        await db.commit()


async def command_count(ctx: AppContext) -> int:
    async with ctx.sessions() as db:
        return int(await db.scalar(select(func.count()).select_from(Command)) or 0)


async def test_owner_queues_a_command(
    ctx: AppContext, client: httpx.AsyncClient, alice: Account, device: DeviceHandle
) -> None:
    created = await queue(
        client, device, alice, name="set-level", params={"level": 3, "tags": ["a"]}, ttl_seconds=60
    )
    assert created["name"] == "set-level"
    assert created["params"] == {"level": 3, "tags": ["a"]}
    assert created["status"] == "pending"
    assert created["delivered_at"] is None
    assert created["acked_at"] is None
    assert created["result"] is None
    lifetime = datetime.fromisoformat(str(created["expires_at"])) - datetime.fromisoformat(
        str(created["created_at"])
    )
    assert lifetime == timedelta(seconds=60)
    default = await queue(client, device, alice)
    assert default["params"] == {}
    lifetime = datetime.fromisoformat(str(default["expires_at"])) - datetime.fromisoformat(
        str(default["created_at"])
    )
    assert lifetime == timedelta(seconds=300)
    async with ctx.sessions() as db:
        row = await db.get(Command, uuid.UUID(str(created["id"])))
        assert row is not None
        assert row.device_id == uuid.UUID(device.id)
        assert row.created_by is not None


async def test_operator_may_queue_and_list_viewer_may_not(
    ctx: AppContext, client: httpx.AsyncClient, alice: Account, bob: Account, device: DeviceHandle
) -> None:
    assert (
        await client.post(commands(device), json={"name": "x"}, headers=bob.headers)
    ).status_code == 404
    await share(ctx, device, bob, "viewer")
    as_viewer = await client.post(commands(device), json={"name": "x"}, headers=bob.headers)
    assert as_viewer.status_code == 403
    assert (await client.get(commands(device), headers=bob.headers)).status_code == 403
    assert await command_count(ctx) == 0
    async with ctx.sessions() as db:
        await db.execute(update(Share).values(role="operator"))
        await db.commit()
    created = await queue(client, device, bob, name="open-door")
    listing = await client.get(commands(device), headers=bob.headers)
    assert listing.status_code == 200
    assert [item["id"] for item in listing.json()["items"]] == [created["id"]]


async def test_device_fetches_at_least_once_then_acks_once(
    ctx: AppContext, client: httpx.AsyncClient, alice: Account, device: DeviceHandle
) -> None:
    first = await queue(client, device, alice, name="first")
    second = await queue(client, device, alice, name="second", params={"n": 2})
    fetched = await pending(client, device)
    assert [item["id"] for item in fetched] == [first["id"], second["id"]]
    assert all(item["status"] == "delivered" for item in fetched)
    assert all(item["delivered_at"] is not None for item in fetched)
    # Not acknowledged yet: delivered again, with the first delivery time kept.
    again = await pending(client, device)
    assert [item["id"] for item in again] == [first["id"], second["id"]]
    assert [item["delivered_at"] for item in again] == [item["delivered_at"] for item in fetched]

    acked = await client.post(
        ack_path(device, str(first["id"])),
        json={"status": "succeeded", "result": {"uptime": 12}},
        headers=device.headers,
    )
    assert acked.status_code == 200, acked.text
    assert acked.json()["status"] == "succeeded"
    assert acked.json()["result"] == {"uptime": 12}
    assert acked.json()["acked_at"] is not None
    assert [item["id"] for item in await pending(client, device)] == [second["id"]]

    twice = await client.post(
        ack_path(device, str(first["id"])), json={"status": "failed"}, headers=device.headers
    )
    assert twice.status_code == 409
    assert twice.headers["content-type"] == "application/problem+json"

    failed = await client.post(
        ack_path(device, str(second["id"])), json={"status": "failed"}, headers=device.headers
    )
    assert failed.json()["status"] == "failed"
    assert failed.json()["result"] == {}
    assert await pending(client, device) == []

    listing = (await client.get(commands(device), headers=alice.headers)).json()["items"]
    assert {item["name"]: item["status"] for item in listing} == {
        "first": "succeeded",
        "second": "failed",
    }
    async with ctx.sessions() as db:
        row = await db.get(Command, uuid.UUID(str(first["id"])))
        assert row is not None
        assert row.status == "succeeded"
        assert row.result == {"uptime": 12}


async def test_expired_commands_are_neither_fetched_nor_acked(
    ctx: AppContext, client: httpx.AsyncClient, alice: Account, device: DeviceHandle
) -> None:
    stale = await queue(client, device, alice, name="stale", ttl_seconds=10)
    delivered = await queue(client, device, alice, name="delivered", ttl_seconds=10)
    fresh = await queue(client, device, alice, name="fresh")
    assert len(await pending(client, device)) == 3
    await expire(ctx, stale["id"])
    await expire(ctx, delivered["id"])
    assert [item["id"] for item in await pending(client, device)] == [fresh["id"]]
    late = await client.post(
        ack_path(device, str(delivered["id"])), json={"status": "succeeded"}, headers=device.headers
    )
    assert late.status_code == 409

    listing = (await client.get(commands(device), headers=alice.headers)).json()["items"]
    assert {item["name"]: item["status"] for item in listing} == {
        "stale": "expired",
        "delivered": "expired",
        "fresh": "delivered",
    }
    only_expired = await client.get(
        commands(device), params={"status": "expired"}, headers=alice.headers
    )
    assert {item["name"] for item in only_expired.json()["items"]} == {"stale", "delivered"}
    only_delivered = await client.get(
        commands(device), params={"status": "delivered"}, headers=alice.headers
    )
    assert [item["name"] for item in only_delivered.json()["items"]] == ["fresh"]
    assert (
        await client.get(commands(device), params={"status": "pending"}, headers=alice.headers)
    ).json()["items"] == []
    bad = await client.get(commands(device), params={"status": "lost"}, headers=alice.headers)
    assert bad.status_code == 422


async def test_other_devices_cannot_fetch_or_ack(
    ctx: AppContext, client: httpx.AsyncClient, alice: Account, device: DeviceHandle
) -> None:
    other = await make_device(ctx, client, alice, "other")
    mine = await queue(client, device, alice)
    theirs = await client.get(commands(device) + "/pending", headers=other.headers)
    assert theirs.status_code == 404
    # Its own path with my command's id: not its command.
    own_path = await client.post(
        ack_path(other, str(mine["id"])), json={"status": "succeeded"}, headers=other.headers
    )
    assert own_path.status_code == 404
    my_path = await client.post(
        ack_path(device, str(mine["id"])), json={"status": "succeeded"}, headers=other.headers
    )
    assert my_path.status_code == 404
    unknown = await client.post(
        ack_path(device, str(uuid.uuid4())), json={"status": "succeeded"}, headers=device.headers
    )
    assert unknown.status_code == 404
    assert await pending(client, other) == []
    assert [item["status"] for item in await pending(client, device)] == ["delivered"]


async def test_users_and_devices_keep_to_their_side(
    client: httpx.AsyncClient, alice: Account, device: DeviceHandle
) -> None:
    created = await queue(client, device, alice)
    assert (
        await client.get(commands(device) + "/pending", headers=alice.headers)
    ).status_code == 404
    as_owner = await client.post(
        ack_path(device, str(created["id"])), json={"status": "succeeded"}, headers=alice.headers
    )
    assert as_owner.status_code == 404
    assert (
        await client.post(commands(device), json={"name": "x"}, headers=device.headers)
    ).status_code == 404
    assert (await client.get(commands(device), headers=device.headers)).status_code == 404
    assert (await client.get(commands(device) + "/pending")).status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        {"name": "reboot", "ttl_seconds": 9},
        {"name": "reboot", "ttl_seconds": 86_401},
        {"name": "reboot", "ttl_seconds": "300"},
        {"name": "Reboot"},
        {"name": "re boot"},
        {"name": ""},
        {"name": "r" * 65},
        {"name": "reboot", "params": {"blob": "x" * 5000}},
        {"name": "reboot", "params": [1, 2]},
        {"name": "reboot", "params": {"s": "nul\x00"}},
        {"name": "reboot", "status": "succeeded"},
        {"params": {}},
    ],
)
async def test_queue_input_is_validated(
    body: dict[str, object],
    ctx: AppContext,
    client: httpx.AsyncClient,
    alice: Account,
    device: DeviceHandle,
) -> None:
    response = await client.post(commands(device), json=body, headers=alice.headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert await command_count(ctx) == 0


@pytest.mark.parametrize(
    "body",
    [
        {"status": "expired"},
        {"status": "delivered"},
        {"status": "succeeded", "result": {"big": "x" * 5000}},
        {"status": "succeeded", "extra": 1},
        {},
    ],
)
async def test_ack_input_is_validated(
    body: dict[str, object],
    ctx: AppContext,
    client: httpx.AsyncClient,
    alice: Account,
    device: DeviceHandle,
) -> None:
    created = await queue(client, device, alice)
    response = await client.post(
        ack_path(device, str(created["id"])), json=body, headers=device.headers
    )
    assert response.status_code == 422, response.text
    async with ctx.sessions() as db:
        row = await db.get(Command, uuid.UUID(str(created["id"])))
        assert row is not None
        assert row.status == "pending"


async def test_listing_is_paginated_newest_first(
    client: httpx.AsyncClient, alice: Account, device: DeviceHandle
) -> None:
    names = [f"c{i}" for i in range(5)]
    for name in names:
        await queue(client, device, alice, name=name)
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(commands(device), params=params, headers=alice.headers)).json()
        seen += [item["name"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == names[::-1]
