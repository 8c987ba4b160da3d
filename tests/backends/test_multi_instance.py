"""Two app instances behind one load balancer: same data dir (so the same keys), the same
PostgreSQL database and the same Redis. Whatever one instance decides about a token, the
other must honour on the very next request.

Needs both servers: skipped locally, failed under CI=true, when either is unreachable.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from iotwarden.app import create_app
from iotwarden.auth.principals import DevicePrincipal
from iotwarden.config import Settings
from iotwarden.context import AppContext
from iotwarden.db.migrate import upgrade
from iotwarden.state.redis import RedisStore
from tests.conftest import PASSWORD, Account, make_account, make_device


@dataclass
class Instance:
    ctx: AppContext
    client: httpx.AsyncClient


@pytest.fixture
async def instances(
    tmp_path: Path, postgres_url: str, redis_url: str, app_state_prefix: str
) -> AsyncIterator[tuple[Instance, Instance]]:
    async with AsyncExitStack() as stack:
        started: list[Instance] = []
        for _ in range(2):
            # As two processes would: each reads its own settings from the same values.
            settings = Settings(
                data_dir=tmp_path / "data", database_url=postgres_url, redis_url=redis_url
            )
            app = create_app(settings)
            # The app's own start-up and shut-down, so teardown is exactly production's.
            await stack.enter_async_context(app.router.lifespan_context(app))
            if not started:
                await upgrade(app.state.ctx.engine)
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            client = httpx.AsyncClient(transport=transport, base_url="https://testserver")
            await stack.enter_async_context(client)
            started.append(Instance(app.state.ctx, client))
        yield started[0], started[1]


async def refresh(instance: Instance, token: str) -> httpx.Response:
    return await instance.client.post(
        "/oauth/token", data={"grant_type": "refresh_token", "refresh_token": token}
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_instances_share_keys_database_and_state(
    instances: tuple[Instance, Instance],
) -> None:
    a, b = instances
    assert a.ctx is not b.ctx
    assert a.ctx.keys.signing.thumbprint() == b.ctx.keys.signing.thumbprint()
    assert isinstance(a.ctx.state, RedisStore)
    assert isinstance(b.ctx.state, RedisStore)
    assert a.ctx.settings.resolved_database_url == b.ctx.settings.resolved_database_url


async def test_token_issued_by_one_instance_works_on_the_other(
    instances: tuple[Instance, Instance],
) -> None:
    a, b = instances
    alice = await make_account(a.ctx, a.client, "alice@example.com")
    me = await b.client.get("/api/v1/me", headers=alice.headers)
    assert me.status_code == 200
    assert me.json()["email"] == alice.email
    device = await make_device(a.ctx, a.client, alice)
    assert isinstance(b.ctx.tokens.verify(device.access_token), DevicePrincipal)
    own = await b.client.get(f"/api/v1/devices/{device.id}", headers=device.headers)
    assert own.status_code == 200


async def test_logout_on_one_instance_revokes_on_the_other_at_once(
    instances: tuple[Instance, Instance],
) -> None:
    a, b = instances
    alice = await make_account(a.ctx, a.client, "alice@example.com")
    # B has verified (and cached) the token: the cache must not outlive the revocation.
    assert (await b.client.get("/api/v1/me", headers=alice.headers)).status_code == 200
    assert (await a.client.post("/api/v1/auth/logout", headers=alice.headers)).status_code == 204
    assert (await b.client.get("/api/v1/me", headers=alice.headers)).status_code == 401
    assert (await refresh(b, alice.refresh_token)).status_code == 400


async def test_refresh_rotated_on_one_instance_is_reuse_on_the_other(
    instances: tuple[Instance, Instance],
) -> None:
    a, b = instances
    alice: Account = await make_account(a.ctx, a.client, "alice@example.com")
    rotated = await refresh(b, alice.refresh_token)
    assert rotated.status_code == 200
    new = rotated.json()
    assert (
        await a.client.get("/api/v1/me", headers=bearer(new["access_token"]))
    ).status_code == 200

    replay = await refresh(a, alice.refresh_token)
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"
    # The whole family is gone, on both instances.
    for instance in (a, b):
        me = await instance.client.get("/api/v1/me", headers=bearer(new["access_token"]))
        assert me.status_code == 401
    assert (await refresh(b, new["refresh_token"])).status_code == 400
    again = await b.client.post(
        "/api/v1/auth/login", json={"email": alice.email, "password": PASSWORD}
    )
    assert again.status_code == 200


async def test_disabling_a_device_on_one_instance_revokes_its_token_on_the_other(
    instances: tuple[Instance, Instance],
) -> None:
    a, b = instances
    alice = await make_account(a.ctx, a.client, "alice@example.com")
    device = await make_device(a.ctx, a.client, alice)
    dev = f"/api/v1/devices/{device.id}"
    assert (await b.client.get(dev, headers=device.headers)).status_code == 200
    assert (await a.client.post(f"{dev}/disable", headers=alice.headers)).status_code == 200
    assert (await b.client.get(dev, headers=device.headers)).status_code == 401
