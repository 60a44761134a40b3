"""The Plane sandbox's records and the rules Plane keeps between them.

References must exist in the same project (``state``, ``labels``, ``parent``); work items
are numbered per project and start in the project's default state; a new project gets
Plane's five default states; ``external_source``/``external_id`` pairs are unique.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from connectors.plane.sandbox_rules import DEFAULT_STATES, KINDS, Kind
from hub.sandbox import MemoryStore, Naming, RecordTable

__all__ = ["PlaneRecords"]


class PlaneRecords:
    """Every Plane resource's :class:`RecordTable`, and the checks across them."""

    def __init__(self, store: MemoryStore, rng: random.Random, naming: Naming) -> None:
        self.tables = {name: RecordTable(store, name, rng, naming=naming) for name in KINDS}

    def ref_errors(
        self, ns: str, kind: Kind, body: Mapping[str, Any], where: Mapping[str, Any]
    ) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        for name, target in kind.refs.items():
            if name in kind.parents or body.get(name) in (None, "", []):
                continue
            ids = body[name] if isinstance(body[name], list) else [body[name]]
            scope = {"project": where["project"]} if "project" in where else {}
            for value in ids:
                if not isinstance(value, str) or self.tables[target].get(ns, value, scope) is None:
                    errors[name] = [f'Invalid pk "{value}" - object does not exist.']
        return errors

    def external(
        self, ns: str, where: Mapping[str, Any], source: str, external_id: str
    ) -> dict[str, Any] | None:
        match = {**where, "external_source": source, "external_id": external_id}
        found = self.tables["work-items"].list(ns, match)
        return found[0] if found else None

    def conflict(
        self, ns: str, where: Mapping[str, Any], body: Mapping[str, Any], exclude: str = ""
    ) -> dict[str, Any] | None:
        """Another work item with ``body``'s external source and id (Plane answers 409)."""
        source, external_id = body.get("external_source"), body.get("external_id")
        if not (source and external_id):
            return None
        existing = self.external(ns, where, str(source), str(external_id))
        if existing is None or existing["id"] == exclude:
            return None
        return existing

    def new_work_item(
        self, ns: str, where: Mapping[str, Any], body: dict[str, Any]
    ) -> dict[str, Any]:
        items = self.tables["work-items"].list(ns, where)
        sequence = max((i.get("sequence_id") or 0 for i in items), default=0) + 1
        fresh = {**body, "sequence_id": sequence}
        if not fresh.get("state"):
            defaults = self.tables["states"].list(ns, {**where, "default": True})
            fresh["state"] = defaults[0]["id"] if defaults else None
        return fresh

    def default_states(self, ns: str, project_id: str) -> None:
        kind = KINDS["states"]
        for sequence, (name, group, color, default) in enumerate(DEFAULT_STATES):
            data = {
                **kind.defaults,
                "name": name,
                "group": group,
                "color": color,
                "default": default,
                "sequence": (sequence + 1) * 15000,
                "workspace": ns,
            }
            self.tables["states"].create(ns, data, {"project": project_id})
