from __future__ import annotations

import uuid
from datetime import UTC, datetime

from pydantic import AwareDatetime, BaseModel, field_validator

from iotwarden.accounts.schemas import Email, StrictInput
from iotwarden.db.base import utcnow
from iotwarden.sharing.models import Role, Share


class ShareIn(StrictInput):
    email: Email
    role: Role
    expires_at: AwareDatetime | None = None

    @field_validator("expires_at")
    @classmethod
    def _in_the_future(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value <= utcnow():
            raise ValueError("must be in the future")
        return value.astimezone(UTC)


class ShareOut(BaseModel):
    id: uuid.UUID
    email: str
    role: Role
    expires_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, share: Share) -> ShareOut:
        return cls(
            id=share.id,
            email=share.grantee_email,
            role=Role(share.role),
            expires_at=share.expires_at,
            created_at=share.created_at,
        )
