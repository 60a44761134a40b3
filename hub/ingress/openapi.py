"""The ingress's OpenAPI 3.1 document, served at ``/openapi.json``.

Written out rather than derived from route signatures: the webhook route reads its raw
body (to check signatures over the exact bytes) and its answers depend on per-source
configuration, which only a hand-kept description states precisely. Response bodies
come from the pydantic models below, so the document and the answers share one schema.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from pydantic.json_schema import models_json_schema

from hub.workflow import SOURCE_PATTERN

__all__ = ["Accepted", "BatchAccepted", "ErrorBody", "openapi_document"]


class Run(BaseModel):
    workflow: str
    revision: str
    run_id: str


class Skipped(BaseModel):
    workflow: str
    reason: str = Field(description="Why the workflow's `if` kept the event out.")


class Record(BaseModel):
    """An accepted event: every run in `runs` is in the broker."""

    event_id: str
    source: str
    event_type: str
    received_at: str = Field(description="When the hub first accepted the event (UTC).")
    runs: list[Run]
    skipped: list[Skipped]


class Accepted(Record):
    """The answer to a delivery."""

    duplicate: bool = Field(
        description="True when this event id was accepted before; nothing new was started."
    )


class BatchEvent(BaseModel):
    """One event of a batched delivery."""

    event_id: str
    event_type: str
    duplicate: bool = Field(description="Accepted before: `runs` are the runs it started then.")
    runs: list[Run]
    skipped: list[Skipped]
    id_from_content: bool = Field(
        default=False, description="It came without an id: `event_id` is a hash of its content."
    )


class BatchAccepted(BaseModel):
    """The answer to a batched delivery (a source with `batch`): every event stored."""

    source: str
    received_at: str
    events: list[BatchEvent] = Field(description="One per event of the batch, in order.")


class ErrorBody(BaseModel):
    error: str = Field(description="What went wrong and what to do about it.")


class Health(BaseModel):
    status: str
    workflows: int


class RecentEvents(BaseModel):
    events: list[Record]


class WorkflowInfo(BaseModel):
    name: str
    revision: str
    source: str
    event: str


class WorkflowList(BaseModel):
    workflows: list[WorkflowInfo]


class SourceInfo(BaseModel):
    name: str
    auth: str
    configured: bool
    max_body_bytes: int
    dedupe_seconds: int


class SourceList(BaseModel):
    sources: list[SourceInfo]


_MODELS: list[type[BaseModel]] = [
    Accepted,
    BatchAccepted,
    Record,
    ErrorBody,
    Health,
    RecentEvents,
    WorkflowList,
    SourceList,
]


def _json(model: str, description: str, **extra: Any) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{model}"}}},
        **extra,
    }


def _error(description: str) -> dict[str, Any]:
    return _json("ErrorBody", description)


_UNAVAILABLE = _json(
    "ErrorBody",
    "Redis cannot take or answer now: retry after the given seconds.",
    headers={"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds."}},
)
_ADMIN = {
    "security": [{"bearer": []}, {}],
    "description": "Needs `Authorization: Bearer <HUB_INGRESS_ADMIN_TOKEN>`; without that "
    "setting it answers 401, except in `hub up`'s local mode.",
}
_ADMIN_ERRORS = {
    "401": _error("Wrong or missing admin token, or no admin token configured."),
    "503": _UNAVAILABLE,
}


def _header(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": False,
        "description": description,
        "schema": {"type": "string"},
    }


def _hook() -> dict[str, Any]:
    return {
        "summary": "Deliver an event",
        "description": (
            "Authenticates the delivery as the source's configuration says, reads the event "
            "type and id, and starts one run per matching workflow. 202 comes only once the "
            "event and all its runs are stored in Redis (fsynced, with "
            "HUB_INGRESS_FSYNC=always); a redelivery of an accepted event id within the "
            "dedupe window answers 200 with `duplicate: true` and starts nothing. A source "
            "with `batch` takes an array of events: 202 with one entry per event, each "
            "deduped on its own, all stored or none (503). A verification handshake the "
            "source answers (Slack's url_verification, Zoom's endpoint.url_validation, ...) "
            "is answered 200 at once and starts nothing."
        ),
        "parameters": [
            {
                "name": "source",
                "in": "path",
                "required": True,
                "schema": {"type": "string", "pattern": SOURCE_PATTERN},
                "description": "The sender, as configured in the sources folder.",
            },
            _header(
                "X-Event-Type",
                "Event type (default place; sources may configure another header or a body path).",
            ),
            _header(
                "X-Event-Id", "Event id, for de-duplication (or webhook-id, or the body's id)."
            ),
            _header("webhook-id", "Standard Webhooks message id."),
            _header("webhook-timestamp", "Standard Webhooks timestamp (Unix seconds)."),
            _header("webhook-signature", "Standard Webhooks signatures (`v1,<base64>`)."),
        ],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {}}},
            "description": "The event, any JSON document, at most the source's size limit.",
        },
        "responses": _hook_responses(),
    }


def _hook_responses() -> dict[str, Any]:
    return {
        "200": {
            "description": "Already accepted: the original answer, `duplicate: true`; "
            "or the answer to a verification handshake.",
            "content": {
                "application/json": {"schema": {}},
                "text/plain": {"schema": {"type": "string"}},
            },
        },
        "202": {
            "description": "Accepted: stored with its runs (possibly none); for a batch, "
            "every event of it.",
            "content": {
                "application/json": {
                    "schema": {
                        "anyOf": [
                            {"$ref": "#/components/schemas/Accepted"},
                            {"$ref": "#/components/schemas/BatchAccepted"},
                        ]
                    }
                }
            },
        },
        "400": _error("Empty or malformed JSON, or no event type/id where the source says."),
        "401": _error(
            "Authentication failed (missing or wrong signature, token or "
            "timestamp out of tolerance)."
        ),
        "404": _error("Unknown source."),
        "413": _error("Body over the source's limit."),
        "415": _error("Content-Type is not JSON."),
        "429": _json(
            "ErrorBody",
            "Too many failed authentications from this address to this source lately: "
            "answered without reading the delivery; retry after the given seconds.",
            headers={"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds."}},
        ),
        "503": _UNAVAILABLE,
    }


def _challenge() -> dict[str, Any]:
    def query(name: str) -> dict[str, Any]:
        return {"name": name, "in": "query", "required": False, "schema": {"type": "string"}}

    return {
        "summary": "Answer a verification handshake (hub.challenge)",
        "description": (
            "For a source with a `hub-challenge` handshake (Meta, WebSub): answers "
            "`hub.challenge` when `hub.mode` is `subscribe` and `hub.verify_token` is the "
            "source's. Starts nothing."
        ),
        "parameters": [
            {
                "name": "source",
                "in": "path",
                "required": True,
                "schema": {"type": "string", "pattern": SOURCE_PATTERN},
            },
            query("hub.mode"),
            query("hub.verify_token"),
            query("hub.challenge"),
        ],
        "responses": {
            "200": {
                "description": "The challenge, as sent.",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            },
            "400": _error("hub.mode, hub.verify_token or hub.challenge missing."),
            "403": _error("The verify token is not the source's."),
            "404": _error("Unknown source."),
            "405": _error("The source answers no verification GET: POST events to it."),
        },
    }


def _healthz() -> dict[str, Any]:
    return {
        "summary": "Health: Redis answers",
        "responses": {"200": _json("Health", "Ready."), "503": _UNAVAILABLE},
    }


def _recent_events() -> dict[str, Any]:
    limit = {
        "name": "limit",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 50},
    }
    return {
        "summary": "Recently accepted events, newest first",
        **_ADMIN,
        "parameters": [limit],
        "responses": {
            "200": _json("RecentEvents", "Events."),
            "400": _error("Bad limit."),
            **_ADMIN_ERRORS,
        },
    }


def _one_event() -> dict[str, Any]:
    event_path = [
        {"name": "source", "in": "path", "required": True, "schema": {"type": "string"}},
        {"name": "event_id", "in": "path", "required": True, "schema": {"type": "string"}},
    ]
    return {
        "summary": "One accepted event, while within its dedupe window",
        **_ADMIN,
        "parameters": event_path,
        "responses": {
            "200": _json("Accepted", "The event's record."),
            "404": _error("Not accepted, or its window has passed."),
            **_ADMIN_ERRORS,
        },
    }


def _admin_list(summary: str, model: str, description: str) -> dict[str, Any]:
    return {
        "summary": summary,
        **_ADMIN,
        "responses": {"200": _json(model, description), **_ADMIN_ERRORS},
    }


def openapi_document(title: str = "hub ingress", version: str = "1") -> dict[str, Any]:
    """The whole document."""
    _, schemas = models_json_schema(
        [(m, "serialization") for m in _MODELS], ref_template="#/components/schemas/{model}"
    )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": "Webhook ingress of the hub: POST events to /hooks/{source}.",
        },
        "paths": {
            "/hooks/{source}": {"post": _hook(), "get": _challenge()},
            "/healthz": {"get": _healthz()},
            "/events": {"get": _recent_events()},
            "/events/{source}/{event_id}": {"get": _one_event()},
            "/workflows": {
                "get": _admin_list("Workflows the ingress routes to", "WorkflowList", "Workflows.")
            },
            "/sources": {
                "get": _admin_list(
                    "Sources and how they authenticate (never their secrets)",
                    "SourceList",
                    "Sources.",
                )
            },
        },
        "components": {
            "schemas": schemas["$defs"],
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
