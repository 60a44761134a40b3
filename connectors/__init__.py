"""Connectors: one package per external system, all on the shared HTTP layer."""

__all__: list[str] = []
