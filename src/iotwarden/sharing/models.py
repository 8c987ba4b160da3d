from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from iotwarden.db.base import Base, CreatedMixin, IdMixin


class Role(StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"


class Share(IdMixin, CreatedMixin, Base):
    """A grant to whoever holds ``grantee_email``; sharing never reveals whether they exist."""

    __tablename__ = "shares"
    __table_args__ = (UniqueConstraint("device_id", "grantee_email"),)

    device_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    grantee_email: Mapped[str] = mapped_column(String(320), index=True)
    role: Mapped[str] = mapped_column(String(16))
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
