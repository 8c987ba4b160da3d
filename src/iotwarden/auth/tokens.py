"""Signed JWT access tokens: issued, verified, and cached once verified.

The algorithm is pinned in code (Ed25519); ``alg`` in a header never chooses it.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey
from joserfc.jwt import JWTClaimsRegistry

from iotwarden.auth.principals import DevicePrincipal, UserPrincipal
from iotwarden.http.problems import Unauthorized

ALGORITHM = "Ed25519"
_CACHE_SIZE = 10_000
_MAX_TOKEN_LENGTH = 2048


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    expires_in: int


@dataclass(frozen=True, slots=True)
class _Verified:
    principal: UserPrincipal | DevicePrincipal
    expires_at: int


class TokenService:
    def __init__(self, key: OKPKey, *, issuer: str, audience: str, not_before: int = 0) -> None:
        self._key = key
        self._issuer = issuer
        self._audience = audience
        # Tokens minted before this instant are refused (in-process state forgets revocations).
        self._not_before = not_before
        self._claims = JWTClaimsRegistry(
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": audience},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
            jti={"essential": True},
            sid={"essential": True},
        )
        # Verifying a signature costs ~250 us; a device posting every second reuses its token.
        self._cache: OrderedDict[str, _Verified] = OrderedDict()

    def issue(self, principal: UserPrincipal | DevicePrincipal, ttl: int) -> IssuedToken:
        now = int(time.time())
        if isinstance(principal, UserPrincipal):
            subject, sid = f"user:{principal.user_id}", principal.session_id
        else:
            subject, sid = f"device:{principal.device_id}", principal.credential_id
        claims = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": subject,
            "sid": str(sid),
            "iat": now,
            "exp": now + ttl,
            "jti": secrets.token_urlsafe(16),
        }
        header = {"alg": ALGORITHM, "typ": "at+jwt", "kid": self._key.thumbprint()}
        token = jwt.encode(header, claims, self._key, algorithms=[ALGORITHM])
        return IssuedToken(token=token, expires_in=ttl)

    def verify(self, token: str) -> UserPrincipal | DevicePrincipal:
        now = int(time.time())
        cached = self._cache.get(token)
        if cached is not None:
            if cached.expires_at > now:
                return cached.principal
            del self._cache[token]
        verified = self._verify_signed(token, now)
        self._cache[token] = verified
        if len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)
        return verified.principal

    def _verify_signed(self, token: str, now: int) -> _Verified:
        if len(token) > _MAX_TOKEN_LENGTH:
            raise Unauthorized("invalid token")
        try:
            decoded = jwt.decode(token, self._key, algorithms=[ALGORITHM])
            if decoded.header.get("typ") != "at+jwt":
                raise Unauthorized("invalid token")
            self._claims.validate(decoded.claims)
            claims = decoded.claims
            if int(claims["iat"]) < self._not_before or int(claims["iat"]) > now + 60:
                raise Unauthorized("invalid token")
            principal = _principal(str(claims["sub"]), str(claims["sid"]))
        except (JoseError, ValueError, KeyError, TypeError) as exc:
            raise Unauthorized("invalid token") from exc
        return _Verified(principal=principal, expires_at=int(claims["exp"]))


def _principal(subject: str, sid: str) -> UserPrincipal | DevicePrincipal:
    kind, _, ident = subject.partition(":")
    if kind == "user":
        return UserPrincipal(user_id=uuid.UUID(ident), session_id=uuid.UUID(sid))
    if kind == "device":
        return DevicePrincipal(device_id=uuid.UUID(ident), credential_id=uuid.UUID(sid))
    raise ValueError("unknown subject kind")
