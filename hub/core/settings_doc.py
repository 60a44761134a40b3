"""The settings table, as README and ``hub settings`` show it."""

from __future__ import annotations

from hub.core.settings import Settings

__all__ = ["settings_table"]


def settings_table() -> str:
    """A Markdown table of every setting: environment name, default, meaning."""
    rows = ["| Variable | Default | Meaning |", "| --- | --- | --- |"]
    for name, field in Settings.model_fields.items():
        default = field.default_factory() if field.default_factory else field.default  # type: ignore[call-arg]
        shown = "(unset)" if default is None else f"`{default}`"
        rows.append(f"| `{name.upper()}` | {shown} | {field.description or ''} |")
    return "\n".join(rows)
