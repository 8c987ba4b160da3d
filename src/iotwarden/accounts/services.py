"""Users: creation, credential checks that answer alike for unknown accounts, passwords."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from iotwarden.accounts import sessions
from iotwarden.accounts.models import User
from iotwarden.auth.passwords import (
    check_password,
    hash_password_async,
    needs_rehash,
    verify_dummy_async,
    verify_password_async,
)
from iotwarden.context import AppContext
from iotwarden.db.base import utcnow


class EmailTakenError(Exception):
    pass


class WrongPasswordError(Exception):
    pass


async def create_user(db: AsyncSession, email: str, password: str) -> User:
    check_password(password, email=email)
    user = User(email=email, password_hash=await hash_password_async(password))
    db.add(user)
    try:
        await db.commit()
    except IntegrityError as exc:
        await db.rollback()
        raise EmailTakenError(email) from exc
    return user


async def authenticate(db: AsyncSession, email: str, password: str) -> User | None:
    user = await db.scalar(select(User).where(User.email == email))
    if user is None or not user.is_active:
        # Same work as a real check, so timing does not reveal which accounts exist.
        await verify_dummy_async(password)
        return None
    if not await verify_password_async(user.password_hash, password):
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = await hash_password_async(password)
        await db.commit()
    return user


async def change_password(
    db: AsyncSession, ctx: AppContext, user: User, current: str, new: str
) -> None:
    if not await verify_password_async(user.password_hash, current):
        raise WrongPasswordError
    check_password(new, email=user.email)
    user.password_hash = await hash_password_async(new)
    user.password_changed_at = utcnow()
    await db.commit()
    await sessions.revoke_all(db, ctx, user.id, reason="password-change")
