"""Who is asking: the three kinds of principal a route policy can admit."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum


class PrincipalKind(StrEnum):
    USER = "user"
    DEVICE = "device"
    ANONYMOUS = "anonymous"


@dataclass(frozen=True, slots=True)
class UserPrincipal:
    user_id: uuid.UUID
    session_id: uuid.UUID
    kind: PrincipalKind = PrincipalKind.USER


@dataclass(frozen=True, slots=True)
class DevicePrincipal:
    device_id: uuid.UUID
    credential_id: uuid.UUID
    kind: PrincipalKind = PrincipalKind.DEVICE


@dataclass(frozen=True, slots=True)
class Anonymous:
    kind: PrincipalKind = PrincipalKind.ANONYMOUS


Principal = UserPrincipal | DevicePrincipal | Anonymous
ANONYMOUS = Anonymous()
