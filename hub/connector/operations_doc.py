"""The operations workflows can ``use``, as ``hub operations`` and README show them."""

from __future__ import annotations

from hub.connector.registry import connectors

__all__ = ["operations_listing", "operations_table"]


def _by_resource() -> dict[str, list[tuple[str, str]]]:
    """``connector.resource`` (``connector`` for operations on no resource) ->
    [(action, summary)], in declaration order."""
    grouped: dict[str, list[tuple[str, str]]] = {}
    for connector in connectors():
        for op in connector.operations.values():
            resource, _, action = op.name.rpartition(".")
            prefix = f"{connector.name}.{resource}" if resource else connector.name
            grouped.setdefault(prefix, []).append((action, op.summary))
    return grouped


def operations_listing() -> str:
    """Every operation with its summary, one a line."""
    rows = [
        (f"{resource}.{action}", summary)
        for resource, actions in _by_resource().items()
        for action, summary in actions
    ]
    width = max((len(name) for name, _ in rows), default=0)
    return "\n".join(f"{name.ljust(width)}  {summary}".rstrip() for name, summary in rows)


def operations_table() -> str:
    """A Markdown table: each resource and the actions it has."""
    lines = ["| `uses:` prefix | actions |", "| --- | --- |"]
    for resource, actions in _by_resource().items():
        lines.append(f"| `{resource}` | {', '.join(a for a, _ in actions)} |")
    return "\n".join(lines)
