"""Access tokens: the algorithm is pinned and every registered claim is checked."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid

import pytest
from joserfc import jwt
from joserfc.jwk import OKPKey

from iotwarden.auth.principals import DevicePrincipal, UserPrincipal
from iotwarden.auth.tokens import TokenService
from iotwarden.http.problems import Unauthorized

KEY = OKPKey.generate_key("Ed25519")
USER = UserPrincipal(user_id=uuid.uuid4(), session_id=uuid.uuid4())


def service(**kw: int) -> TokenService:
    return TokenService(KEY, issuer="iotwarden", audience="iotwarden-api", **kw)


def forge(claims: dict[str, object], key: OKPKey = KEY, alg: str = "Ed25519") -> str:
    header = {"alg": alg, "typ": "at+jwt"}
    return jwt.encode(header, claims, key, algorithms=[alg])


def claims(**override: object) -> dict[str, object]:
    now = int(time.time())
    base: dict[str, object] = {
        "iss": "iotwarden",
        "aud": "iotwarden-api",
        "sub": f"user:{USER.user_id}",
        "sid": str(USER.session_id),
        "iat": now,
        "exp": now + 300,
        "jti": "j",
    }
    base.update(override)
    return {k: v for k, v in base.items() if v is not None}


def test_round_trip_user_and_device() -> None:
    tokens = service()
    assert tokens.verify(tokens.issue(USER, 60).token) == USER
    device = DevicePrincipal(device_id=uuid.uuid4(), credential_id=uuid.uuid4())
    assert tokens.verify(tokens.issue(device, 60).token) == device


def test_valid_forged_claims_accepted() -> None:
    assert service().verify(forge(claims())) == USER


@pytest.mark.parametrize(
    "override",
    [
        {"iss": "evil"},
        {"aud": "other-api"},
        {"exp": int(time.time()) - 10},
        {"iat": None},
        {"jti": None},
        {"sid": None},
        {"sub": "admin:1"},
        {"sub": "user:not-a-uuid"},
        {"iat": int(time.time()) + 3600, "exp": int(time.time()) + 7200},
    ],
)
def test_bad_claims_refused(override: dict[str, object]) -> None:
    with pytest.raises(Unauthorized):
        service().verify(forge(claims(**override)))


def test_other_key_refused() -> None:
    with pytest.raises(Unauthorized):
        service().verify(forge(claims(), key=OKPKey.generate_key("Ed25519")))


def _b64(data: dict[str, object] | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def test_hmac_signed_with_the_public_key_refused() -> None:
    # The classic confusion attack: HS256 keyed with the verifier's public key.
    signing_input = _b64({"alg": "HS256", "typ": "at+jwt"}) + "." + _b64(claims())
    mac = hmac.new(KEY.as_bytes(private=False), signing_input.encode(), hashlib.sha256)
    with pytest.raises(Unauthorized):
        service().verify(signing_input + "." + _b64(mac.digest()))


def test_alg_none_refused() -> None:
    token = _b64({"alg": "none", "typ": "at+jwt"}) + "." + _b64(claims()) + "."
    with pytest.raises(Unauthorized):
        service().verify(token)


def test_wrong_typ_refused() -> None:
    token = jwt.encode({"alg": "Ed25519", "typ": "JWT"}, claims(), KEY, algorithms=["Ed25519"])
    with pytest.raises(Unauthorized):
        service().verify(token)


@pytest.mark.parametrize("junk", ["", "a.b.c", "x" * 5000, "é.é.é", "....."])
def test_garbage_refused(junk: str) -> None:
    with pytest.raises(Unauthorized):
        service().verify(junk)


def test_tokens_older_than_not_before_refused() -> None:
    old = forge(claims(iat=int(time.time()) - 100))
    with pytest.raises(Unauthorized):
        service(not_before=int(time.time()) - 10).verify(old)


def test_cached_token_still_expires() -> None:
    tokens = service()
    token = forge(claims(exp=int(time.time()) + 1))
    assert tokens.verify(token) == USER
    time.sleep(2.1)
    with pytest.raises(Unauthorized):
        tokens.verify(token)
