"""Settings classes by the environment variables operators write.

:func:`env_names` says which variable sets which field of a pydantic-settings class (its
``env_prefix`` and field name upper-cased, or the field's ``validation_alias``), so a
settings table or an error message names what the operator sets. :func:`isolated` builds
a class from values given by those names alone, the environment and ``.env`` unread: what
``hub test`` and tests give is all there is, on every machine.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from functools import cache
from typing import Any, TypeVar, cast

from pydantic import AliasChoices
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

__all__ = ["env_name", "env_names", "isolated"]

S = TypeVar("S", bound=BaseSettings)


def _alias(field: FieldInfo) -> str | None:
    alias = field.validation_alias
    if isinstance(alias, str):
        return alias
    if isinstance(alias, AliasChoices):
        return next((choice for choice in alias.choices if isinstance(choice, str)), None)
    return field.alias


def env_name(settings_cls: type[BaseSettings], field_name: str) -> str:
    """The environment variable (upper case) that sets ``field_name`` of ``settings_cls``."""
    field = settings_cls.model_fields[field_name]
    prefix = str(settings_cls.model_config.get("env_prefix") or "")
    return (_alias(field) or f"{prefix}{field_name}").upper()


def env_names(settings_cls: type[BaseSettings]) -> dict[str, str]:
    """Environment variable (upper case) -> the field it sets: the fields the class
    declares itself first, in its order, then those it inherits."""
    own = [
        name for name in inspect.get_annotations(settings_cls) if name in settings_cls.model_fields
    ]
    names = [*own, *(name for name in settings_cls.model_fields if name not in own)]
    return {env_name(settings_cls, name): name for name in names}


@cache
def _from_arguments_only(settings_cls: type[S]) -> type[S]:
    """``settings_cls`` reading its keyword arguments only."""

    def sources(
        cls: type[BaseSettings],
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)

    namespace = {
        "settings_customise_sources": classmethod(sources),
        "__module__": settings_cls.__module__,
        "__qualname__": settings_cls.__qualname__,
    }
    return cast("type[S]", type(settings_cls.__name__, (settings_cls,), namespace))


def isolated(settings_cls: type[S], values: Mapping[str, Any]) -> S:
    """``settings_cls`` from ``values`` (keyed by environment variable, any case) and its
    defaults alone. Names that are not this class's are left out."""
    names = env_names(settings_cls)
    arguments: dict[str, Any] = {}
    for name, value in values.items():
        field_name = names.get(name.upper())
        if field_name is not None:
            field = settings_cls.model_fields[field_name]
            arguments[_alias(field) or field_name] = value
    built: S = _from_arguments_only(settings_cls)(**arguments)
    return built
