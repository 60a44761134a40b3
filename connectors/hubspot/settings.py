"""HubSpot's settings: ``HUBSPOT_*`` (and ``HUB_HUBSPOT_SANDBOX_PORT``, the sandbox's port)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from hub.http import QuotaSettings

__all__ = ["HUBSPOT_API", "HubSpotSettings"]

HUBSPOT_API = "https://api.hubapi.com"


class HubSpotSettings(QuotaSettings):
    """The private app the hub calls HubSpot as, and its two limits.

    HubSpot limits a private app twice: a burst (100 calls per 10 seconds on Free and
    Starter accounts, 190 on Professional and Enterprise) and a day (250,000 calls on
    Free and Starter, 625,000 on Professional, 1,000,000 on Enterprise, shared by the
    account's apps). Each is a budget of its own; set both to your account's.
    """

    model_config = SettingsConfigDict(env_prefix="HUBSPOT_")

    base_url: str = Field(default=HUBSPOT_API, description="HubSpot API base URL.")
    access_token: SecretStr | None = Field(
        default=None,
        description="A private app's access token (pat-...), sent as a bearer token; the app "
        "needs the crm.objects.contacts.read scope.",
    )
    quota_limit: int = Field(
        default=100, description="HubSpot calls per burst window per private app (190 on Pro)."
    )
    quota_window_seconds: float = Field(default=10, description="HubSpot's burst window.")
    daily_limit: int = Field(
        default=250_000,
        ge=1,
        description="HubSpot calls per day (625,000 on Professional, 1,000,000 on Enterprise).",
    )
    timeout_seconds: float = Field(default=30.0, description="HubSpot per-request timeout.")
    sandbox_port: int = Field(
        default=9104,
        validation_alias="HUB_HUBSPOT_SANDBOX_PORT",
        description="Port of the HubSpot sandbox that `hub up` starts.",
    )

    @property
    def has_credentials(self) -> bool:
        """True when a private app token is configured."""
        return bool(self.access_token)
