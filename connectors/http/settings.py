"""``http.request``'s settings: ``HTTP_REQUEST_*`` (and ``HUB_HTTP_SANDBOX_PORT``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import SettingsConfigDict

from hub.core import ConnectorSettings

__all__ = ["HttpRequestSettings", "NamedQuota"]


class NamedQuota(BaseModel):
    """A budget requests naming it take their slots from, cluster-wide."""

    model_config = ConfigDict(extra="forbid")

    limit: int = Field(ge=1)
    window_seconds: float = Field(gt=0)


class HttpRequestSettings(ConnectorSettings):
    """Timeouts, named quotas and where requests go in local runs and tests."""

    model_config = SettingsConfigDict(env_prefix="HTTP_REQUEST_")

    timeout_seconds: float = Field(
        default=10.0, gt=0, description="Per-request timeout of `http.request`."
    )
    quotas: dict[str, NamedQuota] = Field(
        default_factory=dict,
        description="Budgets an `http.request` step may name in `quota`, as JSON: "
        '{"slack": {"limit": 1, "window_seconds": 1}}.',
    )
    send_to: str | None = Field(
        default=None,
        description="A base URL every `http.request` goes to instead of its URL's own "
        "scheme and host (the path is appended): how `hub up` and `hub test` point it at "
        "the webhook sandbox. Unset: each request goes where its URL says.",
    )
    live: bool = Field(
        default=False,
        description="`hub up` sends `http.request` calls to their real URLs instead of "
        "the webhook sandbox it starts otherwise.",
    )
    sandbox_port: int = Field(
        default=9105,
        validation_alias="HUB_HTTP_SANDBOX_PORT",
        description="Port of the webhook sandbox `hub up` starts unless HTTP_REQUEST_LIVE.",
    )
