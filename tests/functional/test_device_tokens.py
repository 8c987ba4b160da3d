from __future__ import annotations

import base64

import httpx

from iotwarden.context import AppContext
from tests.conftest import Account, device_token, make_device


async def test_device_exchanges_secret_for_short_token(
    ctx: AppContext, client: httpx.AsyncClient, alice: Account
) -> None:
    device = await make_device(ctx, client, alice)
    response = await device_token(client, device.id, device.secret)
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["expires_in"] <= 900
    assert "refresh_token" not in body
    me = await client.get(f"/api/v1/devices/{device.id}", headers=device.headers)
    assert me.status_code != 401


async def test_http_basic_client_auth(
    ctx: AppContext, client: httpx.AsyncClient, alice: Account
) -> None:
    device = await make_device(ctx, client, alice)
    basic = base64.b64encode(f"{device.id}:{device.secret}".encode()).decode()
    response = await client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert response.status_code == 200


async def test_wrong_secret_and_unknown_device_answer_alike(
    ctx: AppContext, client: httpx.AsyncClient, alice: Account
) -> None:
    device = await make_device(ctx, client, alice)
    wrong = await device_token(client, device.id, device.secret + "x")
    unknown = await device_token(client, "7f1d1a8e-4a7b-4f0e-9a53-2f7d2f0b9c11", device.secret)
    garbage = await device_token(client, "not-a-uuid", device.secret)
    assert wrong.status_code == unknown.status_code == garbage.status_code == 401
    assert wrong.json() == unknown.json() == garbage.json()
    assert wrong.json()["error"] == "invalid_client"
    assert wrong.headers["www-authenticate"].startswith("Basic")


async def test_unsupported_grant_and_json_body_refused(client: httpx.AsyncClient) -> None:
    response = await client.post("/oauth/token", data={"grant_type": "password"})
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"
    as_json = await client.post("/oauth/token", json={"grant_type": "refresh_token"})
    assert as_json.status_code == 415
