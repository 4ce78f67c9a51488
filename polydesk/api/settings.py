"""Settings of the control API (`polydesk api`): where it listens and the bearer token it asks for."""

from __future__ import annotations

import ipaddress
from typing import ClassVar

from pydantic import Field, SecretStr, field_validator, model_validator

from shared.config import ServiceSettings

DEFAULT_API_PORT = 8910


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and `localhost`; a name or any other address is not loopback."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ApiSettings(ServiceSettings):
    SECRET_FIELDS: ClassVar[tuple[str, ...]] = ("redis_password", "api_token")

    api_host: str = Field(
        default="127.0.0.1",
        description="address the control API listens on; not loopback: a token is required",
    )
    api_port: int = Field(default=DEFAULT_API_PORT, ge=0, le=65535, description="port of the control API")
    api_token: SecretStr | None = Field(
        default=None,
        description="bearer token of the control API; unset on loopback: one is generated into "
        "<state_dir>/api-token (0600)",
    )
    api_confirm_secs: float = Field(
        default=5.0, ge=0, description="how long a state change waits for the owning service to confirm it"
    )

    @field_validator("api_token")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("must be at least 16 characters")
        return value

    @model_validator(mode="after")
    def _token_off_loopback(self) -> ApiSettings:
        if not is_loopback(self.api_host) and self.api_token is None:
            raise ValueError(
                f"api_host {self.api_host} is not a loopback address: set api_token (or api_token_file)"
            )
        return self
