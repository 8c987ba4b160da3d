"""Devices over the real app: registration, listing with shares, changes, and credentials."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from iotwarden.context import AppContext
from iotwarden.db.base import utcnow
from iotwarden.devices.models import Device
from iotwarden.recordings.models import Recording
from iotwarden.sharing.models import Share
from tests.conftest import Account, DeviceHandle, device_token, make_account

DEVICES = "/api/v1/devices"
OUT_FIELDS = {
    "id",
    "name",
    "model",
    "labels",
    "firmware_version",
    "config",
    "disabled",
    "created_at",
    "updated_at",
    "role",
}
SITE = {"site": {"address": "1 Example Street", "wifi": "home-net"}, "interval_s": 30}


async def register(client: httpx.AsyncClient, owner: Account, **fields: Any) -> dict[str, Any]:
    response = await client.post(DEVICES, json={"name": "toy", **fields}, headers=owner.headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def connect(client: httpx.AsyncClient, device_id: str, secret: str) -> DeviceHandle:
    response = await device_token(client, device_id, secret)
    assert response.status_code == 200, response.text
    return DeviceHandle(device_id, secret, response.json()["access_token"])


async def share(
    ctx: AppContext, device_id: str, email: str, role: str, expires_in: float | None = None
) -> None:
    # Inserted directly: the sharing routes are not this feature's.
    expires_at = None if expires_in is None else utcnow() + timedelta(seconds=expires_in)
    async with ctx.sessions() as db:
        db.add(
            Share(
                device_id=uuid.UUID(device_id),
                grantee_email=email,
                role=role,
                expires_at=expires_at,
            )
        )
        await db.commit()


async def list_all(client: httpx.AsyncClient, account: Account, limit: int = 1) -> list[Any]:
    items: list[Any] = []
    params: dict[str, Any] = {"limit": limit}
    for _ in range(50):
        response = await client.get(DEVICES, params=params, headers=account.headers)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= limit
        items += page["items"]
        if page["next_cursor"] is None:
            return items
        params["cursor"] = page["next_cursor"]
    raise AssertionError("pagination never ended")


@pytest.fixture
async def carol(ctx: AppContext, client: httpx.AsyncClient) -> Account:
    return await make_account(ctx, client, "carol@example.com")


async def test_registration_shows_the_secret_once_and_keeps_only_its_hash(
    ctx: AppContext, client: httpx.AsyncClient, alice: Account
) -> None:
    response = await client.post(
        DEVICES,
        json={
            "name": "  Kitchen thermostat  ",
            "model": "TH-200",
            "labels": {"room": "kitchen"},
            "firmware_version": "v2.0.1-rc.1+build.7",
            "config": SITE,
        },
        headers=alice.headers,
    )
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    created = response.json()
    assert set(created) == OUT_FIELDS | {"secret"}
    assert uuid.UUID(created["id"]).version == 4
    assert created["secret"].startswith("iotw_ds_")
    assert created["name"] == "Kitchen thermostat"
    assert created["config"] == SITE
    assert created["role"] == "owner"
    assert created["disabled"] is False

    shown = await client.get(f"{DEVICES}/{created['id']}", headers=alice.headers)
    assert shown.status_code == 200
    assert set(shown.json()) == OUT_FIELDS
    assert {k: v for k, v in created.items() if k != "secret"} == shown.json()
    listed = await client.get(DEVICES, headers=alice.headers)
    assert set(listed.json()["items"][0]) == OUT_FIELDS
    assert created["secret"] not in shown.text + listed.text

    async with ctx.sessions() as db:
        device = await db.get(Device, uuid.UUID(created["id"]))
    assert device is not None
    assert device.secret_hash == hashlib.sha256(created["secret"].encode()).hexdigest()
    # The secret works exactly as issued, and a device token acts only as that device.
    handle = await connect(client, created["id"], created["secret"])
    me = await client.get(f"{DEVICES}/{created['id']}", headers=handle.headers)
    assert me.status_code == 200
    assert me.json()["role"] == "self"
    assert me.json()["config"] == SITE


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"name": "x", "owner_id": str(uuid.uuid4())}, id="owner_id"),
        pytest.param({"name": "x", "id": str(uuid.uuid4())}, id="id"),
        pytest.param({"name": "x", "secret_hash": "0" * 64}, id="secret_hash"),
        pytest.param({"name": "x", "disabled": True}, id="disabled"),
        pytest.param({}, id="no name"),
        pytest.param({"name": "   "}, id="blank name"),
        pytest.param({"name": "x" * 101}, id="long name"),
        pytest.param({"name": "a\x00b"}, id="NUL in name"),
        pytest.param({"name": "a\nb"}, id="line break in name"),
        pytest.param({"name": "x", "model": "m" * 101}, id="long model"),
        pytest.param({"name": "x", "firmware_version": "1.0 <script>"}, id="firmware markup"),
        pytest.param({"name": "x", "firmware_version": "1" * 65}, id="long firmware"),
        pytest.param({"name": "x", "labels": {"Bad Key": "v"}}, id="label key"),
        pytest.param({"name": "x", "labels": {"k": "v" * 129}}, id="label value"),
        pytest.param({"name": "x", "config": {"blob": "z" * (16 * 1024)}}, id="config size"),
        pytest.param({"name": "x", "config": {"k": "\x00"}}, id="config NUL"),
        pytest.param({"name": "x", "config": [1, 2]}, id="config not an object"),
    ],
)
async def test_registration_rejects_bad_input_and_stores_nothing(
    ctx: AppContext, client: httpx.AsyncClient, alice: Account, body: dict[str, Any]
) -> None:
    response = await client.post(DEVICES, json=body, headers=alice.headers)
    assert response.status_code == 422, response.text
    async with ctx.sessions() as db:
        assert await db.scalar(select(func.count()).select_from(Device)) == 0


async def test_list_has_owned_and_shared_devices_with_roles_across_pages(
    ctx: AppContext, client: httpx.AsyncClient, alice: Account, bob: Account, carol: Account
) -> None:
    mine = [await register(client, alice, name=f"alice-{i}", config=SITE) for i in range(2)]
    viewed = await register(client, bob, name="bob-viewed", config=SITE)
    operated = await register(client, bob, name="bob-operated", config=SITE)
    expired = await register(client, bob, name="bob-expired")
    await register(client, bob, name="bob-private")
    await share(ctx, viewed["id"], alice.email, "viewer")
    await share(ctx, operated["id"], alice.email, "operator", expires_in=3600)
    await share(ctx, expired["id"], alice.email, "viewer", expires_in=-1)
    await share(ctx, mine[0]["id"], carol.email, "viewer")

    items = await list_all(client, alice)
    roles = {item["id"]: item["role"] for item in items}
    assert len(items) == len(roles) == 4
    assert roles == {
        mine[0]["id"]: "owner",
        mine[1]["id"]: "owner",
        viewed["id"]: "viewer",
        operated["id"]: "operator",
    }
    assert items == sorted(items, key=lambda i: (i["created_at"], i["id"]), reverse=True)
    configs = {item["id"]: item["config"] for item in items}
    assert configs[viewed["id"]] is None
    assert configs[operated["id"]] == configs[mine[0]["id"]] == SITE
    assert await list_all(client, alice, limit=100) == items

    assert [(i["id"], i["role"]) for i in await list_all(client, carol)] == [
        (mine[0]["id"], "viewer")
    ]
    assert len(await list_all(client, bob, limit=3)) == 4
    bad_cursor = await client.get(DEVICES, params={"cursor": "!!"}, headers=alice.headers)
    assert bad_cursor.status_code == 400


async def test_shared_roles_on_a_single_device(
    ctx: AppContext, client: httpx.AsyncClient, alice: Account, bob: Account, carol: Account
) -> None:
    device = await register(client, alice, config=SITE)
    url = f"{DEVICES}/{device['id']}"
    await share(ctx, device["id"], bob.email, "viewer")
    await share(ctx, device["id"], carol.email, "operator")

    as_viewer = await client.get(url, headers=bob.headers)
    assert as_viewer.status_code == 200
    assert as_viewer.json()["role"] == "viewer"
    assert as_viewer.json()["config"] is None
    as_operator = await client.get(url, headers=carol.headers)
    assert as_operator.json()["role"] == "operator"
    assert as_operator.json()["config"] == SITE

    for sharee in (bob, carol):
        patch = await client.patch(url, json={"name": "mine now"}, headers=sharee.headers)
        assert patch.status_code == 403
        for action in ("secret", "disable", "enable"):
            assert (await client.post(f"{url}/{action}", headers=sharee.headers)).status_code == 403
        assert (await client.delete(url, headers=sharee.headers)).status_code == 403
    after = await client.get(url, headers=alice.headers)
    assert after.json()["name"] == "toy"
    assert after.json()["disabled"] is False
    await connect(client, device["id"], device["secret"])


async def test_an_expired_share_grants_nothing(
    ctx: AppContext, client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    device = await register(client, alice)
    await share(ctx, device["id"], bob.email, "operator", expires_in=-1)
    assert (await client.get(f"{DEVICES}/{device['id']}", headers=bob.headers)).status_code == 404
    assert await list_all(client, bob) == []


async def test_patch_changes_only_what_is_sent(client: httpx.AsyncClient, alice: Account) -> None:
    device = await register(client, alice, model="TH-200", labels={"room": "hall"}, config=SITE)
    url = f"{DEVICES}/{device['id']}"
    response = await client.patch(
        url, json={"name": "Hall sensor", "firmware_version": "1.4.2"}, headers=alice.headers
    )
    assert response.status_code == 200, response.text
    patched = response.json()
    assert patched["name"] == "Hall sensor"
    assert patched["firmware_version"] == "1.4.2"
    assert (patched["model"], patched["labels"], patched["config"]) == (
        "TH-200",
        {"room": "hall"},
        SITE,
    )
    assert patched["updated_at"] > device["updated_at"]
    assert patched["created_at"] == device["created_at"]
    replaced = await client.patch(
        url, json={"labels": {}, "config": {"interval_s": 5}}, headers=alice.headers
    )
    assert (replaced.json()["labels"], replaced.json()["config"]) == ({}, {"interval_s": 5})
    assert (await client.get(url, headers=alice.headers)).json() == replaced.json()


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"colour": "red"}, id="unknown field"),
        pytest.param({"owner_id": str(uuid.uuid4())}, id="owner_id"),
        pytest.param({"id": str(uuid.uuid4())}, id="id"),
        pytest.param({"secret": "iotw_ds_chosen"}, id="secret"),
        pytest.param({"secret_hash": "0" * 64}, id="secret_hash"),
        pytest.param({"credential_id": str(uuid.uuid4())}, id="credential_id"),
        pytest.param({"disabled": True}, id="disabled"),
        pytest.param({"disabled_at": None}, id="disabled_at"),
        pytest.param({"name": "x" * 101}, id="long name"),
        pytest.param({"name": "a\x00b"}, id="NUL in name"),
        pytest.param({"name": None}, id="null name"),
        pytest.param({"config": None}, id="null config"),
        pytest.param({"name": "ok", "labels": {"k": "a\rb"}}, id="one bad field of two"),
        pytest.param({"firmware_version": "1.0;rm -rf"}, id="firmware"),
    ],
)
async def test_rejected_patch_changes_nothing(
    ctx: AppContext, client: httpx.AsyncClient, alice: Account, body: dict[str, Any]
) -> None:
    device = await register(client, alice, labels={"room": "hall"}, config=SITE)
    url = f"{DEVICES}/{device['id']}"
    before = (await client.get(url, headers=alice.headers)).json()
    async with ctx.sessions() as db:
        stored = await db.get(Device, uuid.UUID(device["id"]))
    assert stored is not None
    response = await client.patch(url, json=body, headers=alice.headers)
    assert response.status_code == 422, response.text
    assert (await client.get(url, headers=alice.headers)).json() == before
    async with ctx.sessions() as db:
        again = await db.get(Device, uuid.UUID(device["id"]))
    assert again is not None
    assert (again.owner_id, again.secret_hash, again.credential_id, again.disabled_at) == (
        stored.owner_id,
        stored.secret_hash,
        stored.credential_id,
        None,
    )
    await connect(client, device["id"], device["secret"])


async def test_another_users_device_is_not_found_on_every_route(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    victim = await register(client, alice, config=SITE)
    own = await register(client, bob)
    bob_device = await connect(client, own["id"], own["secret"])
    missing = str(uuid.uuid4())

    async def calls(device_id: str, headers: dict[str, str]) -> list[httpx.Response]:
        url = f"{DEVICES}/{device_id}"
        return [
            await client.get(url, headers=headers),
            await client.patch(url, json={"name": "pwned"}, headers=headers),
            await client.delete(url, headers=headers),
            await client.post(f"{url}/secret", headers=headers),
            await client.post(f"{url}/disable", headers=headers),
            await client.post(f"{url}/enable", headers=headers),
        ]

    for headers in (bob.headers, bob_device.headers):
        for target in (victim["id"], missing, "not-a-uuid"):
            for response in await calls(target, headers):
                assert response.status_code == 404, (target, response.request.method)
                assert victim["secret"] not in response.text
    # Existing-but-not-yours reads exactly like never-existed.
    theirs = await client.get(f"{DEVICES}/{victim['id']}", headers=bob.headers)
    nowhere = await client.get(f"{DEVICES}/{missing}", headers=bob.headers)
    assert theirs.json() == nowhere.json()

    # Nothing happened to the victim's device: same data, same secret, still enabled.
    after = await client.get(f"{DEVICES}/{victim['id']}", headers=alice.headers)
    assert after.status_code == 200
    assert (after.json()["name"], after.json()["disabled"]) == ("toy", False)
    await connect(client, victim["id"], victim["secret"])
    assert await list_all(client, bob) == [
        {**{k: v for k, v in own.items() if k != "secret"}, "role": "owner"}
    ]


async def test_a_device_reads_only_itself_and_changes_nothing(
    client: httpx.AsyncClient, alice: Account
) -> None:
    first = await register(client, alice, name="first")
    second = await register(client, alice, name="second")
    device = await connect(client, first["id"], first["secret"])
    assert (await client.get(f"{DEVICES}/{first['id']}", headers=device.headers)).json()[
        "role"
    ] == "self"
    assert (
        await client.get(f"{DEVICES}/{second['id']}", headers=device.headers)
    ).status_code == 404
    url = f"{DEVICES}/{first['id']}"
    # Device routes for users only: a device cannot rename, re-key or delete itself.
    assert (await client.patch(url, json={"name": "x"}, headers=device.headers)).status_code == 404
    assert (await client.post(f"{url}/secret", headers=device.headers)).status_code == 404
    assert (await client.delete(url, headers=device.headers)).status_code == 404
    assert (await client.get(DEVICES, headers=device.headers)).status_code == 403
    assert (
        await client.post(DEVICES, json={"name": "x"}, headers=device.headers)
    ).status_code == 403


async def test_rotation_kills_old_tokens_and_old_secret(
    client: httpx.AsyncClient, alice: Account
) -> None:
    device = await register(client, alice)
    url = f"{DEVICES}/{device['id']}"
    old = await connect(client, device["id"], device["secret"])
    assert (await client.get(url, headers=old.headers)).status_code == 200

    rotated = await client.post(f"{url}/secret", headers=alice.headers)
    assert rotated.status_code == 200
    assert rotated.headers["cache-control"] == "no-store"
    assert set(rotated.json()) == {"secret"}
    new_secret = rotated.json()["secret"]
    assert new_secret.startswith("iotw_ds_")
    assert new_secret != device["secret"]

    assert (await client.get(url, headers=old.headers)).status_code == 401
    refused = await device_token(client, device["id"], device["secret"])
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_client"
    new = await connect(client, device["id"], new_secret)
    assert (await client.get(url, headers=new.headers)).status_code == 200
    assert new_secret not in (await client.get(url, headers=alice.headers)).text


async def test_disable_kills_tokens_and_exchange_until_enabled(
    client: httpx.AsyncClient, alice: Account
) -> None:
    device = await register(client, alice)
    url = f"{DEVICES}/{device['id']}"
    token = await connect(client, device["id"], device["secret"])

    disabled = await client.post(f"{url}/disable", headers=alice.headers)
    assert disabled.status_code == 200
    assert disabled.json()["disabled"] is True
    assert (await client.post(f"{url}/disable", headers=alice.headers)).json()["disabled"] is True
    assert (await client.get(url, headers=token.headers)).status_code == 401
    assert (await device_token(client, device["id"], device["secret"])).status_code == 401
    listed = (await client.get(DEVICES, headers=alice.headers)).json()["items"]
    assert listed[0]["disabled"] is True

    enabled = await client.post(f"{url}/enable", headers=alice.headers)
    assert enabled.status_code == 200
    assert enabled.json()["disabled"] is False
    # Same secret as before; the token from before stays dead, a new one works at once.
    again = await connect(client, device["id"], device["secret"])
    assert (await client.get(url, headers=again.headers)).status_code == 200
    assert (await client.get(url, headers=token.headers)).status_code == 401


async def test_delete_removes_device_rows_files_and_tokens(
    ctx: AppContext, client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    doomed = await register(client, alice, name="doomed")
    kept = await register(client, alice, name="kept")
    token = await connect(client, doomed["id"], doomed["secret"])
    await share(ctx, doomed["id"], bob.email, "viewer")
    names = {device["id"]: secrets.token_hex(16) for device in (doomed, kept)}
    ctx.blob_dir.mkdir(parents=True, exist_ok=True)
    async with ctx.sessions() as db:
        for device_id, name in names.items():
            (ctx.blob_dir / name).write_bytes(b"RIFF-audio")
            db.add(
                Recording(
                    device_id=uuid.UUID(device_id),
                    content_type="audio/wav",
                    size_bytes=10,
                    sha256=hashlib.sha256(b"RIFF-audio").hexdigest(),
                    storage_name=name,
                )
            )
        await db.commit()

    url = f"{DEVICES}/{doomed['id']}"
    response = await client.delete(url, headers=alice.headers)
    assert response.status_code == 204
    assert response.content == b""
    assert (await client.get(url, headers=alice.headers)).status_code == 404
    assert (await client.get(url, headers=bob.headers)).status_code == 404
    assert (await client.delete(url, headers=alice.headers)).status_code == 404
    assert (await client.get(url, headers=token.headers)).status_code == 401
    assert (await device_token(client, doomed["id"], doomed["secret"])).status_code == 401
    assert [item["id"] for item in await list_all(client, alice)] == [kept["id"]]

    assert not (ctx.blob_dir / names[doomed["id"]]).exists()
    assert (ctx.blob_dir / names[kept["id"]]).read_bytes() == b"RIFF-audio"
    async with ctx.sessions() as db:
        gone = uuid.UUID(doomed["id"])
        assert await db.scalar(select(func.count()).where(Share.device_id == gone)) == 0
        left = await db.scalars(select(Recording.storage_name))
        assert list(left) == [names[kept["id"]]]


async def test_missing_or_unauthenticated_is_refused(
    client: httpx.AsyncClient, alice: Account
) -> None:
    device = await register(client, alice)
    assert (await client.get(DEVICES)).status_code == 401
    assert (await client.get(f"{DEVICES}/{device['id']}")).status_code == 401
    assert (await client.post(DEVICES, json={"name": "x"})).status_code == 401
    form = await client.post(DEVICES, data={"name": "x"}, headers=alice.headers)
    assert form.status_code == 415
