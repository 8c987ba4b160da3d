from __future__ import annotations

import uuid

from sqlalchemy import BigInteger, Float, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from iotwarden.db.base import Base


class Reading(Base):
    """One sample. (device, metric, timestamp) is its identity, so a resent batch is a no-op."""

    __tablename__ = "readings"
    __table_args__ = (Index("ix_readings_device_ts", "device_id", "ts_ms"),)

    device_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    metric: Mapped[str] = mapped_column(String(64), primary_key=True)
    # Epoch milliseconds: cheap to bind, and buckets are plain integer division in SQL.
    ts_ms: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    value: Mapped[float] = mapped_column(Float)
