"""Every Plutio resource the reference documents, declared as data.

A :class:`Resource` names the resource as workflows write it (``task_boards``; its API
path spells it with dashes, ``/task-boards``), what one record is called, the model of
its fields, and the endpoints the reference documents for it, in the reference's words:
``list`` (GET), ``create`` (POST), ``update`` (``PUT /bulk``), ``delete``
(``DELETE /bulk``), ``move`` and ``copy`` (``POST /move``, ``POST /copy``).
:mod:`connectors.plutio.operations` turns each into workflow operations.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel

from connectors.plutio.models import Invoice, Person, Record

__all__ = ["ENDPOINTS", "RESOURCES", "Resource"]

#: endpoint kinds a resource may document
ENDPOINTS = frozenset({"list", "create", "update", "delete", "move", "copy"})


@dataclass(frozen=True)
class Resource:
    """One Plutio resource and the endpoints it has."""

    name: str
    singular: str
    endpoints: frozenset[str]
    fields: type[BaseModel] = field(default=Record)

    @property
    def path(self) -> str:
        """The API path segment: ``task_boards`` is ``task-boards``."""
        return self.name.replace("_", "-")

    @property
    def plural(self) -> str:
        """How several records are called in messages."""
        return self.name.replace("_", " ")


_CRUD = "list create update delete"


def _table(
    *rows: tuple[str, str, str] | tuple[str, str, str, type[BaseModel]],
) -> dict[str, Resource]:
    table: dict[str, Resource] = {}
    for row in rows:
        name, singular, endpoints = row[0], row[1], frozenset(row[2].split())
        unknown = endpoints - ENDPOINTS
        if unknown:
            raise ValueError(f"{name}: unknown endpoints {sorted(unknown)}")
        fields = row[3] if len(row) == 4 else Record
        table[name] = Resource(name, singular, endpoints, fields)
    return table


RESOURCES: dict[str, Resource] = _table(
    ("people", "person", _CRUD, Person),
    ("companies", "company", _CRUD),
    ("projects", "project", f"{_CRUD} move copy"),
    ("tasks", "task", f"{_CRUD} move copy"),
    ("task_boards", "task board", f"{_CRUD} move copy"),
    ("task_groups", "task group", f"{_CRUD} move copy"),
    ("time_tracks", "time track", _CRUD),
    ("invoices", "invoice", _CRUD, Invoice),
    ("invoice_subscriptions", "invoice subscription", _CRUD),
    ("proposals", "proposal", _CRUD),
    ("contracts", "contract", _CRUD),
    ("forms", "form", f"{_CRUD} copy"),
    ("form_responses", "form response", _CRUD),
    ("comments", "comment", _CRUD),
    ("custom_fields", "custom field", _CRUD),
    ("blocks", "block", _CRUD),
    ("block_groups", "block group", "list update"),
    ("businesses", "business", "list update"),
    ("canned_responses", "canned response", _CRUD),
    ("categories", "category", _CRUD),
    ("conversations", "conversation", _CRUD),
    ("dashboards", "dashboard", "list update"),
    ("dashboard_pages", "dashboard page", _CRUD),
    ("dashboard_data", "dashboard data record", "list"),
    ("events", "event", _CRUD),
    ("file_folders", "file folder", f"{_CRUD} move"),
    ("files", "file", f"{_CRUD} move"),
    ("inbox_groups", "inbox group", _CRUD),
    ("items", "item", _CRUD),
    ("notes", "note", _CRUD),
    ("profiles", "profile", "list"),
    ("roles", "role", "create update delete"),
    ("statuses", "status", f"{_CRUD} move"),
    ("templates", "template", _CRUD),
    ("trash_bin", "trash bin entry", "list delete"),
    ("wiki", "wiki", _CRUD),
    ("wiki_entities", "wiki entity", f"{_CRUD} move"),
)
