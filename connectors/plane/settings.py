"""Plane's settings: ``PLANE_*`` (and ``HUB_PLANE_SANDBOX_PORT``, the sandbox's port)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from hub.http import QuotaSettings

__all__ = ["CLOUD_API", "PlaneSettings"]

CLOUD_API = "https://api.plane.so"


class PlaneSettings(QuotaSettings):
    """The Plane workspace and API key the hub calls with, and its quota."""

    model_config = SettingsConfigDict(env_prefix="PLANE_")

    base_url: str = Field(
        default=CLOUD_API,
        description="Plane API base URL: Plane Cloud, or your self-hosted instance's URL.",
    )
    api_key: SecretStr | None = Field(
        default=None, description="Plane API key (a personal access token), sent as X-API-Key."
    )
    workspace_slug: str | None = Field(
        default=None, description="Plane workspace slug, as in the workspace's URL."
    )
    quota_limit: int = Field(default=60, description="Plane calls per window per API key.")
    quota_window_seconds: float = Field(default=60, description="Plane quota window.")
    timeout_seconds: float = Field(default=30.0, description="Plane per-request timeout.")
    sandbox_port: int = Field(
        default=9101,
        validation_alias="HUB_PLANE_SANDBOX_PORT",
        description="Port of the Plane sandbox that `hub up` starts.",
    )

    @property
    def has_credentials(self) -> bool:
        """True when a Plane API key and workspace are configured."""
        return bool(self.api_key and self.workspace_slug)
