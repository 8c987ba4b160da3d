"""Shares: an owner lends a device to an email address, as viewer or operator.

Sharing never reveals whether the address has an account: the share is stored either way and
applies when (if ever) that user exists, because roles are resolved by joining the user's
email at request time (``iotwarden.auth.access``). For the same reason a revoked or expired
share stops working on the grantee's very next request.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from iotwarden.accounts.models import User
from iotwarden.http.pagination import PageParams, keyset, page_of
from iotwarden.http.problems import Conflict, NotFound, Unprocessable
from iotwarden.sharing.models import Share
from iotwarden.sharing.schemas import ShareIn


async def put_share(
    db: AsyncSession, device_id: uuid.UUID, owner_id: uuid.UUID, body: ShareIn
) -> tuple[Share, bool]:
    """Create the share, or update role and expiry of the one for that email; True if created."""
    if body.email == await db.scalar(select(User.email).where(User.id == owner_id)):
        raise Unprocessable("a device cannot be shared with its owner")
    share = await db.scalar(
        select(Share).where(Share.device_id == device_id, Share.grantee_email == body.email)
    )
    created = share is None
    if share is None:
        share = Share(device_id=device_id, grantee_email=body.email)
        db.add(share)
    share.role = body.role
    share.expires_at = body.expires_at
    try:
        await db.commit()
    except IntegrityError:
        await db.rollback()
        raise Conflict("the share was changed at the same time; try again") from None
    return share, created


async def list_shares(
    db: AsyncSession, device_id: uuid.UUID, page: PageParams
) -> tuple[Sequence[Share], str | None]:
    stmt = select(Share).where(Share.device_id == device_id)
    rows = (await db.scalars(keyset(stmt, page, Share.created_at, Share.id))).all()
    return page_of(rows, page)


async def delete_share(db: AsyncSession, device_id: uuid.UUID, share_id: uuid.UUID) -> None:
    share = await db.scalar(select(Share).where(Share.id == share_id, Share.device_id == device_id))
    if share is None:
        raise NotFound()
    await db.delete(share)
    await db.commit()
