"""Plutio's settings: ``PLUTIO_*`` (and ``HUB_SANDBOX_PORT``, the sandbox's port)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from hub.http import QuotaSettings

__all__ = ["REAL_API", "PlutioSettings"]

REAL_API = "https://api.plutio.com/v1.11"


class PlutioSettings(QuotaSettings):
    """The Plutio API client the hub calls as, and its quota."""

    model_config = SettingsConfigDict(env_prefix="PLUTIO_")

    base_url: str = Field(default=REAL_API, description="Plutio API base URL.")
    client_id: str | None = Field(default=None, description="Plutio API client id.")
    client_secret: SecretStr | None = Field(default=None, description="Plutio API client secret.")
    business: str | None = Field(
        default=None, description="Plutio business subdomain, sent as the Business header."
    )
    quota_limit: int = Field(default=1000, description="Calls per window per API client.")
    quota_window_seconds: float = Field(default=3600, description="Quota window.")
    quota_reserve_percent: float = Field(
        default=5.0,
        ge=0,
        lt=100,
        description="Share of the Plutio quota the hub leaves for other users of the same "
        "API client.",
    )
    timeout_seconds: float = Field(default=30.0, description="Per-request timeout.")
    sandbox_port: int = Field(
        default=9100,
        validation_alias="HUB_SANDBOX_PORT",
        description="Port of the Plutio sandbox that `hub up` starts.",
    )

    @property
    def has_credentials(self) -> bool:
        """True when real Plutio credentials are configured."""
        return bool(self.client_id and self.client_secret and self.business)
