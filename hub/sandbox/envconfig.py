"""Read a sandbox's config model from ``PREFIX_*`` environment variables.

Field ``quota_limit`` of a model read with prefix ``ACME_SANDBOX_`` comes from
``ACME_SANDBOX_QUOTA_LIMIT``. Lists and objects are written as JSON
(``ACME_SANDBOX_WORKSPACES='["a","b"]'``). Parsing is pydantic-settings' own.
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["config_from_env"]

M = TypeVar("M", bound=BaseModel)


def config_from_env(model: type[M], prefix: str) -> M:
    """An instance of ``model``: its defaults, overridden by ``{prefix}{FIELD}`` variables."""
    settings_cls: type[BaseSettings] = type(
        f"{model.__name__}FromEnv",
        (BaseSettings, model),
        {
            "model_config": SettingsConfigDict(
                env_prefix=prefix, extra="ignore", case_sensitive=False
            )
        },
    )
    values = settings_cls().model_dump(exclude_unset=True)
    return model.model_validate(values)
