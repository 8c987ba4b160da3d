"""End-to-end flows through the HTTP app, on every database and every state store.

Each test runs four times: {sqlite, postgresql} x {memory, redis} (``settings`` is
overridden in conftest.py, so ``app``, ``client``, ``alice`` ... come from tests/conftest.py).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from iotwarden.accounts.models import Session
from iotwarden.auth.principals import DevicePrincipal
from iotwarden.commands.models import Command
from iotwarden.context import AppContext
from iotwarden.telemetry.models import Reading
from tests.conftest import PASSWORD, Account, DeviceHandle, device_token, make_account, make_device


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post(
        "/oauth/token", data={"grant_type": "refresh_token", "refresh_token": token}
    )


async def revoke_reasons(ctx: AppContext) -> list[str | None]:
    async with ctx.sessions() as db:
        return list(await db.scalars(select(Session.revoke_reason).order_by(Session.created_at)))


# --- user sessions -------------------------------------------------------------------------


async def test_login_refresh_logout(
    client: httpx.AsyncClient, ctx: AppContext, alice: Account
) -> None:
    me = await client.get("/api/v1/me", headers=alice.headers)
    assert me.status_code == 200
    assert me.json()["email"] == alice.email

    rotated = await refresh(client, alice.refresh_token)
    assert rotated.status_code == 200, rotated.text
    pair = rotated.json()
    assert pair["refresh_token"] != alice.refresh_token
    assert pair["access_token"] != alice.access_token
    assert (await client.get("/api/v1/me", headers=bearer(pair["access_token"]))).status_code == 200

    logout = await client.post("/api/v1/auth/logout", headers=bearer(pair["access_token"]))
    assert logout.status_code == 204
    # Every access token of the family dies at once, not at expiry; so does the refresh token.
    for token in (pair["access_token"], alice.access_token):
        assert (await client.get("/api/v1/me", headers=bearer(token))).status_code == 401
    assert (await refresh(client, pair["refresh_token"])).json()["error"] == "invalid_grant"
    assert await revoke_reasons(ctx) == ["logout"]


async def test_refresh_reuse_revokes_the_family_only(
    client: httpx.AsyncClient, ctx: AppContext, alice: Account
) -> None:
    other = await client.post(
        "/api/v1/auth/login", json={"email": alice.email, "password": PASSWORD}
    )
    rotated = (await refresh(client, alice.refresh_token)).json()

    replay = await refresh(client, alice.refresh_token)
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"
    assert (await refresh(client, rotated["refresh_token"])).status_code == 400
    for token in (rotated["access_token"], alice.access_token):
        assert (await client.get("/api/v1/me", headers=bearer(token))).status_code == 401
    # The other login is another family: untouched.
    other_headers = bearer(other.json()["access_token"])
    assert (await client.get("/api/v1/me", headers=other_headers)).status_code == 200
    assert await revoke_reasons(ctx) == ["refresh-reuse", None]


async def test_concurrent_refreshes_of_one_token_have_one_winner(
    client: httpx.AsyncClient, alice: Account
) -> None:
    """Two presentations of one refresh token at once: exactly one can rotate it, the other
    is reuse, whatever the database's locking model; neither may be a server error."""
    responses = await asyncio.gather(*(refresh(client, alice.refresh_token) for _ in range(2)))
    assert sorted(response.status_code for response in responses) == [200, 400]
    winner = next(response.json() for response in responses if response.status_code == 200)
    # Reuse was detected, so even the winner's new tokens belong to a revoked family.
    assert (await refresh(client, winner["refresh_token"])).status_code == 400
    me = await client.get("/api/v1/me", headers=bearer(winner["access_token"]))
    assert me.status_code == 401


async def test_email_matches_exactly_after_normalisation(
    client: httpx.AsyncClient, ctx: AppContext, alice: Account
) -> None:
    quoted = await make_account(ctx, client, "o'brien@example.com")
    assert (await client.get("/api/v1/me", headers=quoted.headers)).json()["email"] == quoted.email

    async def login(email: str) -> int:
        body = {"email": email, "password": PASSWORD}
        return (await client.post("/api/v1/auth/login", json=body)).status_code

    assert await login("ALICE@Example.COM") == 200
    # LIKE wildcards and quotes are plain characters; injection shapes are not emails.
    assert await login("_lice@example.com") == 401
    assert await login("%@example.com") == 401
    assert await login("o'brien@example.com") == 200
    assert await login("alice@example.com' --") == 422
    assert await login("' OR '1'='1") == 422
    assert await login("alice@example.com\x00") == 422


async def test_session_listing_pages_newest_first_with_literal_user_agents(
    client: httpx.AsyncClient, alice: Account
) -> None:
    agents = [f"agent {i}'); DROP TABLE sessions;-- %_\\" for i in range(4)]
    for agent in agents:
        response = await client.post(
            "/api/v1/auth/login",
            json={"email": alice.email, "password": PASSWORD},
            headers={"User-Agent": agent},
        )
        assert response.status_code == 200
    everything = await client.get("/api/v1/sessions?limit=100", headers=alice.headers)
    items = everything.json()["items"]
    assert [item["user_agent"] for item in items[:4]] == agents[::-1]
    assert [item["created_at"] for item in items] == sorted(
        (item["created_at"] for item in items), reverse=True
    )

    paged: list[dict[str, Any]] = []
    url = "/api/v1/sessions?limit=2"
    while True:
        page = (await client.get(url, headers=alice.headers)).json()
        paged.extend(page["items"])
        if page["next_cursor"] is None:
            break
        url = f"/api/v1/sessions?limit=2&cursor={page['next_cursor']}"
    assert paged == items
    assert len(items) == 5


# --- devices -------------------------------------------------------------------------------


async def test_device_token_round_trip(
    client: httpx.AsyncClient, ctx: AppContext, alice: Account
) -> None:
    device = await make_device(ctx, client, alice, name="thermostat ☃")
    principal = ctx.tokens.verify(device.access_token)
    assert isinstance(principal, DevicePrincipal)
    assert str(principal.device_id) == device.id

    own = await client.get(f"/api/v1/devices/{device.id}", headers=device.headers)
    assert own.status_code == 200, own.text
    assert own.json()["name"] == "thermostat ☃"
    assert own.json()["role"] == "self"
    # A valid device token is still not a user's.
    assert (await client.get("/api/v1/me", headers=device.headers)).status_code == 403
    wrong = await device_token(client, device.id, device.secret[:-1] + "x")
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "invalid_client"


async def test_disabling_a_device_kills_its_tokens(
    client: httpx.AsyncClient, ctx: AppContext, alice: Account
) -> None:
    device = await make_device(ctx, client, alice)
    dev = f"/api/v1/devices/{device.id}"
    assert (await client.get(dev, headers=device.headers)).status_code == 200
    disabled = await client.post(f"{dev}/disable", headers=alice.headers)
    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["disabled"] is True
    # Revocation goes through the state store: immediate on both backends.
    assert (await client.get(dev, headers=device.headers)).status_code == 401
    assert (await device_token(client, device.id, device.secret)).status_code == 401

    assert (await client.post(f"{dev}/enable", headers=alice.headers)).status_code == 200
    again = await device_token(client, device.id, device.secret)
    assert again.status_code == 200
    fresh = bearer(again.json()["access_token"])
    assert (await client.get(dev, headers=fresh)).status_code == 200
    assert (await client.get(dev, headers=device.headers)).status_code == 401


async def test_device_lifecycle_through_the_api(
    client: httpx.AsyncClient, ctx: AppContext, alice: Account, bob: Account
) -> None:
    config = {"wifi": {"ssid": "Café ☕ 'guest'"}, "targets": [19.5, 21, None, True]}
    created = await client.post(
        "/api/v1/devices",
        json={"name": "boiler", "labels": {"room": "Keller"}, "config": config},
        headers=alice.headers,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    dev = f"/api/v1/devices/{body['id']}"
    assert body["config"] == config
    first = await device_token(client, body["id"], body["secret"])
    assert first.status_code == 200
    handle = DeviceHandle(body["id"], body["secret"], first.json()["access_token"])

    new_config = {**config, "schedule": {"mon": ["06:30"]}}
    patched = await client.patch(dev, json={"config": new_config}, headers=alice.headers)
    assert patched.status_code == 200, patched.text
    fetched = (await client.get(dev, headers=alice.headers)).json()
    assert fetched["config"] == new_config
    assert fetched["labels"] == {"room": "Keller"}
    assert datetime.fromisoformat(fetched["updated_at"]) > datetime.fromisoformat(
        fetched["created_at"]
    )
    # Bob learns nothing, not even that the device exists.
    assert (await client.get(dev, headers=bob.headers)).status_code == 404

    rotated = await client.post(f"{dev}/secret", headers=alice.headers)
    assert rotated.status_code == 200
    assert (await client.get(dev, headers=handle.headers)).status_code == 401
    assert (await device_token(client, handle.id, handle.secret)).status_code == 401
    new_token = await device_token(client, handle.id, rotated.json()["secret"])
    assert new_token.status_code == 200

    assert (await client.delete(dev, headers=alice.headers)).status_code == 204
    assert (await client.get(dev, headers=alice.headers)).status_code == 404
    assert (
        await client.get(dev, headers=bearer(new_token.json()["access_token"]))
    ).status_code == 401
    listing = await client.get("/api/v1/devices", headers=alice.headers)
    assert listing.json()["items"] == []


# --- telemetry and commands ----------------------------------------------------------------


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z")


async def test_telemetry_ingest_is_idempotent_and_reads_back(
    client: httpx.AsyncClient, ctx: AppContext, alice: Account
) -> None:
    device = await make_device(ctx, client, alice)
    other = await make_device(ctx, client, alice, name="other")
    dev = f"/api/v1/devices/{device.id}"
    # Whole minutes, an hour ago: three one-minute buckets, the last holding a single reading.
    t0 = (int(time.time()) // 60 - 60) * 60_000
    samples = [(t0, 20.25), (t0 + 1, -3.5), (t0 + 59_999, 1e-9), (t0 + 60_000, 7.0)]
    samples.append((t0 + 120_000 + 123, 123456.75))
    batch = {"readings": [{"ts": ts, "metric": "temp.c", "value": v} for ts, v in samples]}
    for _ in range(2):  # a resent batch (lost ack) must not duplicate anything
        posted = await client.post(f"{dev}/telemetry", json=batch, headers=device.headers)
        assert posted.status_code == 201, posted.text
    # Same metric and timestamps from another device: a different identity, never mixed in.
    elsewhere = f"/api/v1/devices/{other.id}/telemetry"
    assert (await client.post(elsewhere, json=batch, headers=other.headers)).status_code == 201
    async with ctx.sessions() as db:
        stored = (
            await db.execute(
                select(Reading.ts_ms, Reading.value).where(
                    Reading.device_id == uuid.UUID(device.id)
                )
            )
        ).all()
    assert sorted(stored) == samples

    window = {"metric": "temp.c", "start": _iso(t0 - 60_000), "end": _iso(t0 + 180_000)}
    raw = await client.get(f"{dev}/telemetry", params=window, headers=alice.headers)
    assert raw.status_code == 200, raw.text
    assert raw.json()["truncated"] is False
    readback = [(datetime.fromisoformat(r["ts"]), r["value"]) for r in raw.json()["readings"]]
    assert readback == [(datetime.fromtimestamp(ts / 1000, UTC), value) for ts, value in samples]

    bucketed = await client.get(
        f"{dev}/telemetry", params={**window, "bucket": 60}, headers=alice.headers
    )
    assert bucketed.status_code == 200, bucketed.text
    buckets = [
        (datetime.fromisoformat(b["start"]), b["min"], b["max"], b["count"])
        for b in bucketed.json()["buckets"]
    ]
    minute = timedelta(minutes=1)
    first = datetime.fromtimestamp(t0 / 1000, UTC)
    assert buckets == [
        (first, -3.5, 20.25, 3),
        (first + minute, 7.0, 7.0, 1),
        (first + 2 * minute, 123456.75, 123456.75, 1),
    ]
    assert bucketed.json()["buckets"][0]["avg"] == pytest.approx((20.25 - 3.5 + 1e-9) / 3)

    # Devices report; they never read data back (and learn nothing from trying).
    denied = await client.get(f"{dev}/telemetry", params=window, headers=device.headers)
    assert denied.status_code == 404


async def test_command_is_delivered_acked_listed_and_expires(
    client: httpx.AsyncClient, ctx: AppContext, alice: Account
) -> None:
    device = await make_device(ctx, client, alice)
    dev = f"/api/v1/devices/{device.id}"
    params = {"volume": 7, "track": "Schlaflied 🌙 'n' \"quoted\"", "repeat": [1, 2.5, None]}
    sent = await client.post(
        f"{dev}/commands", json={"name": "play", "params": params}, headers=alice.headers
    )
    assert sent.status_code == 201, sent.text
    command_id = sent.json()["id"]
    stale = await client.post(f"{dev}/commands", json={"name": "stale"}, headers=alice.headers)
    # Past its deadline: the comparison with "now" happens in SQL, on both databases.
    async with ctx.sessions() as db:
        await db.execute(
            update(Command)
            .where(Command.id == uuid.UUID(stale.json()["id"]))
            .values(expires_at=datetime.now(UTC) - timedelta(microseconds=1))
        )
        await db.commit()

    pending = await client.get(f"{dev}/commands/pending", headers=device.headers)
    assert pending.status_code == 200, pending.text
    assert [c["id"] for c in pending.json()["items"]] == [command_id]
    assert pending.json()["items"][0]["params"] == params

    result = {"played": True, "note": "ok ✓"}
    ack = {"status": "succeeded", "result": result}
    acked = await client.post(f"{dev}/commands/{command_id}/ack", json=ack, headers=device.headers)
    assert acked.status_code == 200, acked.text
    again = await client.post(f"{dev}/commands/{command_id}/ack", json=ack, headers=device.headers)
    assert again.status_code == 409
    late = await client.post(
        f"{dev}/commands/{stale.json()['id']}/ack", json=ack, headers=device.headers
    )
    assert late.status_code == 409

    listing = await client.get(f"{dev}/commands", headers=alice.headers)
    assert listing.status_code == 200
    by_id = {c["id"]: c for c in listing.json()["items"]}
    assert by_id[command_id]["status"] == "succeeded"
    assert by_id[command_id]["result"] == result
    assert by_id[stale.json()["id"]]["status"] == "expired"
    expired = await client.get(f"{dev}/commands?status=expired", headers=alice.headers)
    assert [c["id"] for c in expired.json()["items"]] == [stale.json()["id"]]
    empty = await client.get(f"{dev}/commands/pending", headers=device.headers)
    assert empty.json()["items"] == []
