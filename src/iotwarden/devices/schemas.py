"""What a client may send about a device, and what it is shown back.

No output model has a secret or hash field: the secret exists once, in ``DeviceCreated`` /
``SecretOut``, at the moment it is minted.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, StringConstraints, model_validator

from iotwarden.devices.models import Device
from iotwarden.http.fields import BoundedJSON, Labels, Name, OptionalText

if TYPE_CHECKING:
    # The field factories build pydantic types at runtime; mypy sees what they validate to.
    DeviceName = str
    ModelName = str
    FirmwareVersion = str
    DeviceConfig = dict[str, Any]
else:
    DeviceName = Name(100)
    ModelName = OptionalText(100)
    # Empty, or "1.2.3", "v2.0.1-rc.1", "2024.01+build.7": no spaces, quotes or markup.
    FirmwareVersion = Annotated[
        OptionalText(64), StringConstraints(pattern=r"^(?:[0-9A-Za-z][0-9A-Za-z._+-]*)?$")
    ]
    DeviceConfig = BoundedJSON(16 * 1024)

Role = Literal["owner", "operator", "viewer", "self"]
# Config may name the site a device is installed at (addresses, Wi-Fi names, schedules).
# Viewers are granted a read-only look at the device, not at where it lives: only the
# owner, operators (who send it commands) and the device itself see it; viewers get null.
CONFIG_ROLES: frozenset[str] = frozenset({"owner", "operator", "self"})


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DeviceCreate(_Input):
    name: DeviceName
    model: ModelName = ""
    labels: Labels = {}
    firmware_version: FirmwareVersion = ""
    config: DeviceConfig = {}


class DeviceUpdate(_Input):
    """Only the fields sent change; ``labels`` and ``config`` are replaced whole."""

    name: DeviceName | None = None
    model: ModelName | None = None
    labels: Labels | None = None
    firmware_version: FirmwareVersion | None = None
    config: DeviceConfig | None = None

    @model_validator(mode="after")
    def _no_nulls(self) -> Self:
        # Every column is NOT NULL: leave a field out to keep it, never send null.
        nulls = sorted(name for name in self.model_fields_set if getattr(self, name) is None)
        if nulls:
            raise ValueError(f"null is not allowed for: {', '.join(nulls)}")
        return self

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


class DeviceOut(BaseModel):
    id: uuid.UUID
    name: str
    model: str
    labels: dict[str, str]
    firmware_version: str
    config: dict[str, Any] | None
    disabled: bool
    created_at: datetime
    updated_at: datetime
    role: Role


def device_out(device: Device, role: str) -> DeviceOut:
    return DeviceOut(
        id=device.id,
        name=device.name,
        model=device.model,
        labels=device.labels,
        firmware_version=device.firmware_version,
        config=device.config if role in CONFIG_ROLES else None,
        disabled=device.disabled_at is not None,
        created_at=device.created_at,
        updated_at=device.updated_at,
        role=role,
    )


class DeviceCreated(DeviceOut):
    secret: str


class SecretOut(BaseModel):
    secret: str
