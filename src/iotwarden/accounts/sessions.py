"""Session families: each login starts one; refresh tokens rotate inside it.

Presenting a refresh token twice means it was copied: the whole family is revoked.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from iotwarden.accounts.models import RefreshToken, Session
from iotwarden.auth.principals import UserPrincipal
from iotwarden.auth.revocation import revoke
from iotwarden.context import AppContext
from iotwarden.db.base import utcnow

REFRESH_PREFIX = "iotw_rt_"


class InvalidGrantError(Exception):
    """The refresh token is unknown, expired, revoked or reused."""


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    expires_in: int
    refresh_token: str


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def start_session(
    db: AsyncSession, ctx: AppContext, user_id: uuid.UUID, user_agent: str
) -> TokenPair:
    now = utcnow()
    family = Session(
        user_id=user_id,
        expires_at=now + timedelta(seconds=ctx.settings.session_max_age),
        user_agent=user_agent[:200],
    )
    db.add(family)
    await db.flush()
    pair = _new_pair(db, ctx, user_id, family)
    await db.commit()
    return pair


def _new_pair(db: AsyncSession, ctx: AppContext, user_id: uuid.UUID, family: Session) -> TokenPair:
    refresh = REFRESH_PREFIX + secrets.token_urlsafe(32)
    expires = min(utcnow() + timedelta(seconds=ctx.settings.refresh_token_ttl), family.expires_at)
    db.add(RefreshToken(session_id=family.id, token_hash=hash_token(refresh), expires_at=expires))
    issued = ctx.tokens.issue(
        UserPrincipal(user_id=user_id, session_id=family.id), ctx.settings.access_token_ttl
    )
    return TokenPair(issued.token, issued.expires_in, refresh)


async def rotate(db: AsyncSession, ctx: AppContext, presented: str) -> TokenPair:
    now = utcnow()
    row = (
        await db.execute(
            select(RefreshToken, Session)
            .join(Session, Session.id == RefreshToken.session_id)
            .where(RefreshToken.token_hash == hash_token(presented))
        )
    ).first()
    if row is None:
        raise InvalidGrantError
    token, family = row
    if family.revoked_at is not None or family.expires_at <= now or token.expires_at <= now:
        raise InvalidGrantError
    claimed = await db.execute(
        update(RefreshToken)
        .where(RefreshToken.id == token.id, RefreshToken.used_at.is_(None))
        .values(used_at=now)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        await revoke_sessions(db, ctx, [family.id], reason="refresh-reuse")
        raise InvalidGrantError
    family.last_used_at = now
    pair = _new_pair(db, ctx, family.user_id, family)
    await db.commit()
    return pair


async def revoke_sessions(
    db: AsyncSession, ctx: AppContext, session_ids: list[uuid.UUID], reason: str
) -> None:
    if session_ids:
        await db.execute(
            update(Session)
            .where(Session.id.in_(session_ids), Session.revoked_at.is_(None))
            .values(revoked_at=utcnow(), revoke_reason=reason)
        )
        await db.commit()
    # Access tokens already out there die now, not when they expire.
    ttl = ctx.settings.access_token_ttl + 60
    for session_id in session_ids:
        await revoke(ctx.state, session_id, ttl)


async def revoke_all(db: AsyncSession, ctx: AppContext, user_id: uuid.UUID, reason: str) -> None:
    active = await db.scalars(
        select(Session.id).where(Session.user_id == user_id, Session.revoked_at.is_(None))
    )
    await revoke_sessions(db, ctx, list(active), reason)
