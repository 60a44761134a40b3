"""The accounting sinks' settings: ``ACCOUNTING_*`` (and ``HUB_ACCOUNTING_SANDBOX_PORT``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from hub.core import ConnectorSettings

__all__ = ["AccountingSettings"]


class AccountingSettings(ConnectorSettings):
    """Where the file sink writes, and the HTTP endpoint rows are posted to."""

    model_config = SettingsConfigDict(env_prefix="ACCOUNTING_")

    export_dir: Path | None = Field(
        default=None,
        description="Folder the accounting file sink writes under (a workflow's `files.folder` "
        "is a subfolder). Unset: `exports` in HUB_DATA_DIR.",
    )
    url: str | None = Field(
        default=None,
        description="Base URL of the accounting endpoint `accounting.export` posts rows to "
        "(with `http:`).",
    )
    token: SecretStr | None = Field(
        default=None, description="Bearer token for ACCOUNTING_URL, if it needs one."
    )
    timeout_seconds: float = Field(
        default=30.0, description="Per-request timeout of the accounting endpoint."
    )
    sandbox_port: int = Field(
        default=9103,
        validation_alias="HUB_ACCOUNTING_SANDBOX_PORT",
        description="Port of the accounting endpoint sandbox `hub up` starts when "
        "ACCOUNTING_URL is unset.",
    )
