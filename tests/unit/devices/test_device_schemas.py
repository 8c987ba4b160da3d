"""Device input models: what a client may set, and what never leaves in a response."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from iotwarden.devices.schemas import DeviceCreate, DeviceCreated, DeviceOut, DeviceUpdate


@pytest.mark.parametrize("version", ["", "1", "1.2.3", "v2.0.1-rc.1+build.7", "2024.01_a"])
def test_version_like_firmware_is_accepted(version: str) -> None:
    assert DeviceCreate(name="x", firmware_version=version).firmware_version == version


@pytest.mark.parametrize(
    "version", [" 1.0", "1.0 ", "-1", ".1", "1.0<b>", "1;2", "1\x00", "1\n2", "v" * 65]
)
def test_other_firmware_strings_are_refused(version: str) -> None:
    with pytest.raises(ValidationError):
        DeviceCreate(name="x", firmware_version=version)


def test_update_reports_only_the_fields_sent() -> None:
    assert DeviceUpdate().changes() == {}
    assert DeviceUpdate(labels={}).changes() == {"labels": {}}
    assert DeviceUpdate(name=" lamp ", config={"a": 1}).changes() == {
        "name": "lamp",
        "config": {"a": 1},
    }


@pytest.mark.parametrize("field", ["name", "model", "labels", "firmware_version", "config"])
def test_update_refuses_null(field: str) -> None:
    with pytest.raises(ValidationError):
        DeviceUpdate.model_validate({field: None})


@pytest.mark.parametrize("field", ["id", "owner_id", "secret_hash", "credential_id", "disabled_at"])
def test_server_owned_fields_cannot_be_sent(field: str) -> None:
    body: dict[str, Any] = {"name": "x", field: "anything"}
    with pytest.raises(ValidationError):
        DeviceCreate.model_validate(body)
    with pytest.raises(ValidationError):
        DeviceUpdate.model_validate(body)


def test_only_the_creation_answer_has_a_secret_field() -> None:
    secretish = {"secret", "secret_hash", "credential_id", "owner_id"}
    assert not secretish & set(DeviceOut.model_fields)
    assert secretish & set(DeviceCreated.model_fields) == {"secret"}
