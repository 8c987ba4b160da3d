"""A user's role on a device: owner, an unexpired share, or nothing at all."""

from __future__ import annotations

import uuid

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from iotwarden.accounts.models import User
from iotwarden.db.base import utcnow
from iotwarden.devices.models import Device
from iotwarden.sharing.models import Share


async def device_role(
    session: AsyncSession, device_id: uuid.UUID, user_id: uuid.UUID
) -> str | None:
    email = select(User.email).where(User.id == user_id).scalar_subquery()
    stmt = (
        select(Device.owner_id, Share.role, Share.expires_at)
        .outerjoin(Share, and_(Share.device_id == Device.id, Share.grantee_email == email))
        .where(Device.id == device_id)
    )
    row = (await session.execute(stmt)).first()
    if row is None:
        return None
    owner_id, role, expires_at = row
    if owner_id == user_id:
        return "owner"
    if role is None or (expires_at is not None and expires_at <= utcnow()):
        return None
    return str(role)
