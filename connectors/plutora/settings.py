"""Plutora's settings: ``PLUTORA_*`` (and ``HUB_PLUTORA_SANDBOX_PORT``, the sandbox's port)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from hub.http import QuotaSettings

__all__ = ["REGIONS", "PlutoraSettings"]

#: Plutora's regions: hosts ``{region}oauth.plutora.com`` and ``{region}api.plutora.com``
REGIONS = ("us", "uk", "au")


class PlutoraSettings(QuotaSettings):
    """The Plutora site, API client and user the hub calls as, and its quota."""

    model_config = SettingsConfigDict(env_prefix="PLUTORA_")

    region: Literal["us", "uk", "au"] = Field(
        default="us", description="Plutora region: picks the auth and API hosts (us, uk, au)."
    )
    auth_url: str | None = Field(
        default=None,
        description="Plutora token URL. Unset: `https://{region}oauth.plutora.com/oauth/token`.",
    )
    base_url: str | None = Field(
        default=None,
        description="Plutora API base URL. Unset: `https://{region}api.plutora.com`.",
    )
    client_id: str | None = Field(default=None, description="Plutora API client id.")
    client_secret: SecretStr | None = Field(default=None, description="Plutora API client secret.")
    username: str | None = Field(
        default=None, description="Plutora user (email address) the password grant logs in as."
    )
    password: SecretStr | None = Field(default=None, description="That Plutora user's password.")
    quota_limit: int = Field(default=26_000, description="Plutora calls per window per API key.")
    quota_window_seconds: float = Field(default=3600, description="Plutora quota window.")
    timeout_seconds: float = Field(default=30.0, description="Plutora per-request timeout.")
    refused_login_hold_seconds: float = Field(
        default=900,
        description="After Plutora refuses the login, fail at once for this long instead of "
        "logging in again (Plutora locks accounts after repeated failures); new credentials "
        "are tried at once.",
    )
    sandbox_port: int = Field(
        default=9102,
        validation_alias="HUB_PLUTORA_SANDBOX_PORT",
        description="Port of the Plutora sandbox that `hub up` starts.",
    )

    @property
    def has_credentials(self) -> bool:
        """True when Plutora client and user credentials are configured."""
        return bool(self.client_id and self.client_secret and self.username and self.password)

    @property
    def token_url(self) -> str:
        """``PLUTORA_AUTH_URL``, or the region's token URL."""
        return self.auth_url or f"https://{self.region}oauth.plutora.com/oauth/token"

    @property
    def api_url(self) -> str:
        """``PLUTORA_BASE_URL``, or the region's API host."""
        return self.base_url or f"https://{self.region}api.plutora.com"
