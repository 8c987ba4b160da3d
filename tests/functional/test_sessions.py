"""Session management: rotation, reuse detection, logout, password change, listing."""

from __future__ import annotations

import httpx

from tests.conftest import PASSWORD, Account


async def _refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post(
        "/oauth/token", data={"grant_type": "refresh_token", "refresh_token": token}
    )


async def test_login_returns_token_pair_not_cached(
    client: httpx.AsyncClient, alice: Account
) -> None:
    response = await client.get("/api/v1/me", headers=alice.headers)
    assert response.status_code == 200
    assert response.json()["email"] == "alice@example.com"
    login = await client.post(
        "/api/v1/auth/login", json={"email": alice.email, "password": alice.password}
    )
    assert login.headers["cache-control"] == "no-store"
    assert login.json()["token_type"] == "Bearer"
    assert login.json()["expires_in"] <= 900


async def test_wrong_password_and_unknown_email_answer_alike(
    client: httpx.AsyncClient, alice: Account
) -> None:
    wrong = await client.post(
        "/api/v1/auth/login", json={"email": alice.email, "password": "x" * 20}
    )
    unknown = await client.post(
        "/api/v1/auth/login", json={"email": "nobody@example.com", "password": "x" * 20}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.headers["content-type"] == "application/problem+json"


async def test_refresh_rotates_and_reuse_revokes_family(
    client: httpx.AsyncClient, alice: Account
) -> None:
    first = await _refresh(client, alice.refresh_token)
    assert first.status_code == 200
    assert first.headers["cache-control"] == "no-store"
    rotated = first.json()
    assert rotated["refresh_token"] != alice.refresh_token
    replay = await _refresh(client, alice.refresh_token)
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"
    # The thief replayed: the legitimate newest token and its access token die too.
    assert (await _refresh(client, rotated["refresh_token"])).status_code == 400
    me = await client.get(
        "/api/v1/me", headers={"Authorization": f"Bearer {rotated['access_token']}"}
    )
    assert me.status_code == 401


async def test_logins_are_separate_families_and_logout_revokes_one(
    client: httpx.AsyncClient, alice: Account
) -> None:
    other = await client.post(
        "/api/v1/auth/login", json={"email": alice.email, "password": PASSWORD}
    )
    phone = other.json()
    assert phone["access_token"] != alice.access_token
    listing = await client.get("/api/v1/sessions", headers=alice.headers)
    assert len(listing.json()["items"]) == 2
    assert sum(item["current"] for item in listing.json()["items"]) == 1
    assert (await client.post("/api/v1/auth/logout", headers=alice.headers)).status_code == 204
    assert (await client.get("/api/v1/me", headers=alice.headers)).status_code == 401
    assert (await _refresh(client, alice.refresh_token)).status_code == 400
    phone_headers = {"Authorization": f"Bearer {phone['access_token']}"}
    assert (await client.get("/api/v1/me", headers=phone_headers)).status_code == 200


async def test_revoke_one_session_by_id(client: httpx.AsyncClient, alice: Account) -> None:
    second = (
        await client.post("/api/v1/auth/login", json={"email": alice.email, "password": PASSWORD})
    ).json()
    second_headers = {"Authorization": f"Bearer {second['access_token']}"}
    items = (await client.get("/api/v1/sessions", headers=alice.headers)).json()["items"]
    target = next(item["id"] for item in items if not item["current"])
    assert (
        await client.delete(f"/api/v1/sessions/{target}", headers=alice.headers)
    ).status_code == 204
    assert (await client.get("/api/v1/me", headers=second_headers)).status_code == 401
    assert (await client.get("/api/v1/me", headers=alice.headers)).status_code == 200


async def test_other_users_session_is_not_found(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    items = (await client.get("/api/v1/sessions", headers=alice.headers)).json()["items"]
    response = await client.delete(f"/api/v1/sessions/{items[0]['id']}", headers=bob.headers)
    assert response.status_code == 404
    assert (await client.get("/api/v1/me", headers=alice.headers)).status_code == 200


async def test_password_change_revokes_every_session(
    client: httpx.AsyncClient, alice: Account
) -> None:
    new_password = "a different long passphrase 7"
    response = await client.post(
        "/api/v1/me/password",
        json={"current_password": PASSWORD, "new_password": new_password},
        headers=alice.headers,
    )
    assert response.status_code == 204
    assert (await client.get("/api/v1/me", headers=alice.headers)).status_code == 401
    assert (await _refresh(client, alice.refresh_token)).status_code == 400
    old = await client.post("/api/v1/auth/login", json={"email": alice.email, "password": PASSWORD})
    assert old.status_code == 401
    new = await client.post(
        "/api/v1/auth/login", json={"email": alice.email, "password": new_password}
    )
    assert new.status_code == 200


async def test_password_change_refuses_weak_and_wrong(
    client: httpx.AsyncClient, alice: Account
) -> None:
    weak = await client.post(
        "/api/v1/me/password",
        json={"current_password": PASSWORD, "new_password": "short"},
        headers=alice.headers,
    )
    assert weak.status_code == 422
    wrong = await client.post(
        "/api/v1/me/password",
        json={"current_password": "not my password at all", "new_password": "x" * 30},
        headers=alice.headers,
    )
    assert wrong.status_code == 403
    assert (await client.get("/api/v1/me", headers=alice.headers)).status_code == 200
