"""Sharing: owner-only, blind to whether the grantee has an account, and revocable at once."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from iotwarden.accounts.models import User
from iotwarden.auth.access import device_role
from iotwarden.context import AppContext
from iotwarden.sharing.models import Share
from tests.conftest import Account, DeviceHandle, make_account, make_device


def _shares(device: DeviceHandle) -> str:
    return f"/api/v1/devices/{device.id}/shares"


async def _share(
    client: httpx.AsyncClient,
    owner: Account,
    device: DeviceHandle,
    email: str,
    role: str = "viewer",
    **extra: Any,
) -> httpx.Response:
    return await client.post(
        _shares(device), json={"email": email, "role": role, **extra}, headers=owner.headers
    )


async def _role(ctx: AppContext, device: DeviceHandle, account: Account) -> str | None:
    async with ctx.sessions() as db:
        user_id = await db.scalar(select(User.id).where(User.email == account.email))
        assert user_id is not None
        return await device_role(db, uuid.UUID(device.id), user_id)


async def _get_device(
    client: httpx.AsyncClient, account: Account, device: DeviceHandle
) -> httpx.Response:
    return await client.get(f"/api/v1/devices/{device.id}", headers=account.headers)


@pytest.fixture
async def carol(ctx: AppContext, client: httpx.AsyncClient) -> Account:
    return await make_account(ctx, client, "carol@example.com")


async def test_share_grants_the_role_and_shows_no_secret(
    ctx: AppContext, client: httpx.AsyncClient, alice: Account, carol: Account
) -> None:
    device = await make_device(ctx, client, alice)
    assert (await _get_device(client, carol, device)).status_code == 404
    response = await _share(client, alice, device, "Carol@Example.COM")
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"id", "email", "role", "expires_at", "created_at"}
    assert body["email"] == "carol@example.com"
    assert body["role"] == "viewer"
    assert body["expires_at"] is None
    assert await _role(ctx, device, carol) == "viewer"
    seen = await _get_device(client, carol, device)
    assert seen.status_code == 200
    assert seen.json()["role"] == "viewer"
    assert device.secret not in seen.text
    assert "secret" not in seen.json()
    listing = await client.get(_shares(device), headers=alice.headers)
    assert listing.json() == {"items": [body], "next_cursor": None}


async def test_sharing_again_updates_the_same_share(
    ctx: AppContext, client: httpx.AsyncClient, alice: Account, carol: Account
) -> None:
    device = await make_device(ctx, client, alice)
    first = await _share(client, alice, device, carol.email, "viewer")
    later = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    again = await _share(
        client, alice, device, carol.email, "operator", expires_at=later.isoformat()
    )
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["role"] == "operator"
    assert datetime.fromisoformat(again.json()["expires_at"]) == later
    assert await _role(ctx, device, carol) == "operator"
    listing = (await client.get(_shares(device), headers=alice.headers)).json()
    assert [item["id"] for item in listing["items"]] == [first.json()["id"]]


async def test_sharing_does_not_reveal_whether_an_account_exists(
    ctx: AppContext, client: httpx.AsyncClient, alice: Account, carol: Account
) -> None:
    device = await make_device(ctx, client, alice)
    known = await _share(client, alice, device, carol.email)
    unknown = await _share(client, alice, device, "nobody.yet@example.com")
    assert known.status_code == unknown.status_code == 201
    assert set(known.json()) == set(unknown.json())
    assert known.headers.keys() == unknown.headers.keys()
    # The share waits for its user: it applies as soon as the account exists.
    late = await make_account(ctx, client, "nobody.yet@example.com")
    assert await _role(ctx, device, late) == "viewer"
    assert (await _get_device(client, late, device)).status_code == 200


@pytest.mark.parametrize("email", ["alice@example.com", "ALICE@Example.com"])
async def test_sharing_with_yourself_is_refused(
    ctx: AppContext, client: httpx.AsyncClient, alice: Account, email: str
) -> None:
    device = await make_device(ctx, client, alice)
    response = await _share(client, alice, device, email)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert (await client.get(_shares(device), headers=alice.headers)).json()["items"] == []


@pytest.mark.parametrize(
    "body",
    [
        {"email": "carol@example.com", "role": "owner"},
        {"email": "carol@example.com", "role": "admin"},
        {"email": "not-an-email", "role": "viewer"},
        {"email": "carol@example.com"},
        {"email": "carol@example.com", "role": "viewer", "device_id": str(uuid.uuid4())},
        {"email": "carol@example.com", "role": "viewer", "expires_at": "2000-01-01T00:00:00Z"},
        {"email": "carol@example.com", "role": "viewer", "expires_at": "2999-01-01T00:00:00"},
    ],
)
async def test_invalid_shares_are_refused(
    ctx: AppContext, client: httpx.AsyncClient, alice: Account, body: dict[str, str]
) -> None:
    device = await make_device(ctx, client, alice)
    response = await client.post(_shares(device), json=body, headers=alice.headers)
    assert response.status_code == 422, response.text
    assert (await client.get(_shares(device), headers=alice.headers)).json()["items"] == []


async def test_expiry_is_honoured(
    ctx: AppContext, client: httpx.AsyncClient, alice: Account, carol: Account
) -> None:
    device = await make_device(ctx, client, alice)
    soon = datetime.now(UTC) + timedelta(hours=1)
    share = await _share(client, alice, device, carol.email, expires_at=soon.isoformat())
    assert share.status_code == 201
    assert (await _get_device(client, carol, device)).status_code == 200
    async with ctx.sessions() as db:
        await db.execute(
            update(Share)
            .where(Share.id == uuid.UUID(share.json()["id"]))
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        await db.commit()
    assert await _role(ctx, device, carol) is None
    assert (await _get_device(client, carol, device)).status_code == 404


async def test_revoking_ends_access_at_once(
    ctx: AppContext, client: httpx.AsyncClient, alice: Account, carol: Account
) -> None:
    device = await make_device(ctx, client, alice)
    share_id = (await _share(client, alice, device, carol.email, "operator")).json()["id"]
    assert (await _get_device(client, carol, device)).status_code == 200
    revoked = await client.delete(f"{_shares(device)}/{share_id}", headers=alice.headers)
    assert revoked.status_code == 204
    assert (await _get_device(client, carol, device)).status_code == 404
    assert await _role(ctx, device, carol) is None
    again = await client.delete(f"{_shares(device)}/{share_id}", headers=alice.headers)
    assert again.status_code == 404


async def test_share_id_of_another_device_is_not_found(
    ctx: AppContext, client: httpx.AsyncClient, alice: Account, bob: Account, carol: Account
) -> None:
    mine = await make_device(ctx, client, alice, name="mine")
    other = await make_device(ctx, client, alice, name="other")
    bobs = await make_device(ctx, client, bob, name="bobs")
    share_id = (await _share(client, alice, mine, carol.email)).json()["id"]
    bobs_share = (await _share(client, bob, bobs, carol.email)).json()["id"]
    for device, foreign in ((other, share_id), (mine, bobs_share)):
        response = await client.delete(f"{_shares(device)}/{foreign}", headers=alice.headers)
        assert response.status_code == 404
    assert await _role(ctx, mine, carol) == "viewer"
    assert await _role(ctx, bobs, carol) == "viewer"


@pytest.mark.parametrize("role", ["viewer", "operator"])
async def test_grantees_cannot_see_or_change_shares(
    ctx: AppContext, client: httpx.AsyncClient, alice: Account, carol: Account, role: str
) -> None:
    device = await make_device(ctx, client, alice)
    share_id = (await _share(client, alice, device, carol.email, role)).json()["id"]
    await _share(client, alice, device, "other.guest@example.com")
    listing = await client.get(_shares(device), headers=carol.headers)
    assert listing.status_code == 403
    assert "other.guest" not in listing.text
    assert (await _share(client, carol, device, "friend@example.com")).status_code == 403
    # Not even to promote themselves.
    assert (await _share(client, carol, device, carol.email, "operator")).status_code == 403
    deleted = await client.delete(f"{_shares(device)}/{share_id}", headers=carol.headers)
    assert deleted.status_code == 403
    assert await _role(ctx, device, carol) == role


async def test_strangers_and_devices_cannot_share(
    ctx: AppContext, client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    device = await make_device(ctx, client, alice)
    share_id = (await _share(client, alice, device, "guest@example.com")).json()["id"]
    assert (await _share(client, bob, device, bob.email, "operator")).status_code == 404
    assert (await client.get(_shares(device), headers=bob.headers)).status_code == 404
    deleted = await client.delete(f"{_shares(device)}/{share_id}", headers=bob.headers)
    assert deleted.status_code == 404
    as_device = await client.post(
        _shares(device), json={"email": "x@example.com", "role": "viewer"}, headers=device.headers
    )
    assert as_device.status_code == 404
    assert (await client.get(_shares(device), headers=device.headers)).status_code == 404
    assert (await client.get(_shares(device))).status_code == 401
    listing = (await client.get(_shares(device), headers=alice.headers)).json()
    assert [item["email"] for item in listing["items"]] == ["guest@example.com"]


async def test_shares_page(ctx: AppContext, client: httpx.AsyncClient, alice: Account) -> None:
    device = await make_device(ctx, client, alice)
    emails = [f"guest{i}@example.com" for i in range(3)]
    for email in emails:
        assert (await _share(client, alice, device, email)).status_code == 201
    first = (await client.get(_shares(device), params={"limit": 2}, headers=alice.headers)).json()
    params = {"limit": 2, "cursor": first["next_cursor"]}
    second = (await client.get(_shares(device), params=params, headers=alice.headers)).json()
    assert second["next_cursor"] is None
    assert [item["email"] for item in first["items"] + second["items"]] == emails[::-1]
