from __future__ import annotations

import unicodedata
import uuid
from datetime import datetime
from typing import Annotated, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints

from iotwarden.auth.passwords import MAX_PASSWORD_LENGTH


def normalize_email(value: str) -> str:
    try:
        checked = validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError("not a valid email address") from exc
    return unicodedata.normalize("NFKC", checked.normalized).lower()


Email = Annotated[str, StringConstraints(max_length=320), AfterValidator(normalize_email)]
# Login accepts any length up to the maximum: its answer must not reveal the password policy.
PasswordInput = Annotated[str, StringConstraints(min_length=1, max_length=MAX_PASSWORD_LENGTH)]


class StrictInput(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class LoginIn(StrictInput):
    email: Email
    password: PasswordInput


class PasswordChangeIn(StrictInput):
    current_password: PasswordInput
    new_password: PasswordInput


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int
    refresh_token: str | None = None


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    created_at: datetime


class SessionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    user_agent: str
    current: bool = False
