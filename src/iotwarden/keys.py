"""Secrets generated on first start into the data dir, and refusal of weak ones.

Several instances share keys by sharing the data dir or by setting ``IOTWARDEN_SECRET_KEY``
and ``IOTWARDEN_SIGNING_KEY_PEM``.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from joserfc.jwk import OKPKey

from iotwarden.config import Settings

SIGNING_KEY_FILE = "signing-key.pem"
SECRET_KEY_FILE = "secret.key"
MIN_SECRET_LENGTH = 32
_PLACEHOLDERS = ("changeme", "change-me", "secret", "example", "password", "default", "xxxx")


class InsecureConfigurationError(RuntimeError):
    """Raised instead of starting with secrets an attacker could guess or read."""


@dataclass(frozen=True, repr=False)
class Keys:
    signing: OKPKey
    secret: bytes

    def __repr__(self) -> str:
        return "Keys(**********)"


def load_keys(settings: Settings) -> Keys:
    data_dir = ensure_data_dir(settings.data_dir)
    if settings.secret_key is not None:
        check_secret_strength(settings.secret_key.reveal(), settings.is_production)
        secret = settings.secret_key.reveal().encode()
    else:
        secret = _read_or_create(data_dir / SECRET_KEY_FILE, _new_secret, settings).strip()
        check_secret_strength(secret.decode(), settings.is_production)
    if settings.signing_key_pem is not None:
        pem = settings.signing_key_pem.reveal().encode()
    else:
        pem = _read_or_create(data_dir / SIGNING_KEY_FILE, _new_signing_key, settings)
    return Keys(signing=_load_signing_key(pem), secret=secret)


def ensure_data_dir(path: Path) -> Path:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def secret_problems(value: str) -> list[str]:
    problems = []
    if len(value) < MIN_SECRET_LENGTH:
        problems.append(f"shorter than {MIN_SECRET_LENGTH} characters")
    if any(marker in value.lower() for marker in _PLACEHOLDERS):
        problems.append("contains a placeholder word")
    if len(set(value)) < 12:
        problems.append("too few distinct characters")
    return problems


def check_secret_strength(value: str, production: bool) -> None:
    problems = secret_problems(value)
    if problems and production:
        raise InsecureConfigurationError(
            "refusing to start: IOTWARDEN_SECRET_KEY is weak (" + ", ".join(problems) + "); "
            "unset it to have one generated, or use `python -c 'import secrets; "
            "print(secrets.token_urlsafe(48))'`"
        )


def new_secret() -> str:
    """A secret that passes :func:`check_secret_strength`."""
    while True:
        # A random draw can spell a placeholder ("xxxx" in about one draw of 16,000),
        # and a generated secret must never stop the server from starting: draw again.
        value = secrets.token_urlsafe(48)
        if not secret_problems(value):
            return value


def _new_secret() -> bytes:
    return new_secret().encode()


def _new_signing_key() -> bytes:
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _read_or_create(path: Path, make: Callable[[], bytes], settings: Settings) -> bytes:
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(make())
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077 and settings.is_production:
        raise InsecureConfigurationError(
            f"refusing to start: {path} is readable by other users (mode {mode:o}); "
            f"run `chmod 600 {path}`"
        )
    return path.read_bytes()


def _load_signing_key(pem: bytes) -> OKPKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise InsecureConfigurationError("the signing key must be an Ed25519 private key")
    return OKPKey.import_key(pem)
