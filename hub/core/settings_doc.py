"""The settings table, as README and ``hub settings`` show it."""

from __future__ import annotations

from collections.abc import Iterable

from pydantic_settings import BaseSettings

from hub.core.env_settings import env_names

__all__ = ["settings_table"]


def settings_table(classes: Iterable[type[BaseSettings]]) -> str:
    """A Markdown table of every setting of ``classes``, in their order: environment
    variable, default, meaning."""
    rows = ["| Variable | Default | Meaning |", "| --- | --- | --- |"]
    for settings_cls in classes:
        for env, name in env_names(settings_cls).items():
            field = settings_cls.model_fields[name]
            default = field.default_factory() if field.default_factory else field.default  # type: ignore[call-arg]
            shown = "(unset)" if default is None else f"`{default}`"
            rows.append(f"| `{env}` | {shown} | {field.description or ''} |")
    return "\n".join(rows)
