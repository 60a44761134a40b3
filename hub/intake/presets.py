"""Presets: what a real sender's source file would say, named once.

``preset: hubspot`` in a source file stands for the fields below; any field the file
writes overrides the preset's: ``auth`` field by field (unless the file names another
``scheme``, which drops the preset's auth), every other field as a whole. A top-level
``secret`` is the auth's secret, so the shortest file is two lines::

    preset: hubspot
    secret: "{{ secrets.HUBSPOT_CLIENT_SECRET }}"

Each preset follows its provider's documentation of its webhooks; the tests sign
deliveries with the provider's own library where one exists (HubSpot, Slack, Stripe).
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["PRESETS", "apply_preset"]

PRESETS: dict[str, dict[str, Any]] = {
    # v3 signature: base64 HMAC-SHA256 of method + URI + body + timestamp (ms); a JSON
    # array of events per request
    "hubspot": {
        "auth": {
            "scheme": "hmac",
            "header": "X-HubSpot-Signature-v3",
            "encoding": "base64",
            "timestamp_header": "X-HubSpot-Request-Timestamp",
            "timestamp_unit": "ms",
            "signed_payload": "{method}{uri}{body}{timestamp}",
            "uri_decode": True,
            "tolerance_seconds": 300,
        },
        "batch": True,
        "event_type": {"path": "subscriptionType"},
        "event_id": {"path": "eventId", "required": True},
    },
    # webhooks v2: HTTP Basic with the user and password set on the webhook
    "pipedrive": {
        "auth": {"scheme": "basic"},
        "event_type": {"format": "{meta.entity}.{meta.action}"},
        "event_id": {"path": "meta.id", "required": True},
    },
    # Events API: v0= hex HMAC-SHA256 of v0:timestamp:body
    "slack": {
        "auth": {
            "scheme": "hmac",
            "header": "X-Slack-Signature",
            "prefix": "v0=",
            "timestamp_header": "X-Slack-Request-Timestamp",
            "signed_payload": "v0:{timestamp}:{body}",
        },
        "event_type": {"path": ["event.type", "type"]},
        "event_id": {"path": "event_id"},
        "handshakes": [
            {"kind": "echo", "when": {"type": "url_verification"}, "reply": "challenge"}
        ],
    },
    # x-zm-signature: v0= hex HMAC-SHA256 of v0:timestamp:body; no delivery id
    "zoom": {
        "auth": {
            "scheme": "hmac",
            "header": "x-zm-signature",
            "prefix": "v0=",
            "timestamp_header": "x-zm-request-timestamp",
            "signed_payload": "v0:{timestamp}:{body}",
        },
        "event_type": {"path": "event"},
        "event_id": {"fallback": "content"},
        "handshakes": [{"kind": "zoom"}],
    },
    "shopify": {
        "auth": {"scheme": "hmac", "header": "X-Shopify-Hmac-Sha256", "encoding": "base64"},
        "event_type": {"header": "X-Shopify-Topic"},
        "event_id": {"header": "X-Shopify-Webhook-Id", "required": True},
    },
    # X-Plane-Event: issue, body action: created -> issue.created
    "plane": {
        "auth": {"scheme": "hmac", "header": "X-Plane-Signature"},
        "event_type": {"format": "{header:X-Plane-Event}.{action}"},
        "event_id": {"header": "X-Plane-Delivery", "required": True},
    },
    # the body is the entity; the type is a custom header added to the webhook in
    # Plutio, named as Plutio names the event (invoice.create); no delivery id
    "plutio": {
        "auth": {"scheme": "shared-secret", "header": "X-Webhook-Secret"},
        "event_type": {"header": "X-Event-Type"},
        "event_id": {"format": "{header:X-Event-Type}:{_id}:{updatedAt}", "fallback": "content"},
    },
    # issues.opened, or the event alone for those without an action (ping, push)
    "github": {
        "auth": {"scheme": "github"},
        "event_type": {"format": ["{header:X-GitHub-Event}.{action}", "{header:X-GitHub-Event}"]},
        "event_id": {"header": "X-GitHub-Delivery", "required": True},
    },
    "stripe": {
        "auth": {"scheme": "stripe"},
        "event_type": {"path": "type"},
        "event_id": {"path": "id", "required": True},
    },
}


def apply_preset(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with its preset's fields under its own and ``secret`` in ``auth``.

    An unknown preset is left for validation to report (with its position); raises
    :class:`ValueError` when the secret is given both ways.
    """
    name = document.get("preset")
    preset = PRESETS.get(name) if isinstance(name, str) else None
    merged: dict[str, Any] = copy.deepcopy(preset) if preset else {}
    for key, value in document.items():
        base = merged.get("auth")
        if key == "auth" and isinstance(value, dict) and isinstance(base, dict):
            same = value.get("scheme", base.get("scheme")) == base.get("scheme")
            merged["auth"] = {**base, **value} if same else dict(value)
        else:
            merged[key] = value
    if "secret" in document:
        auth = merged.get("auth")
        if isinstance(auth, dict):
            if isinstance(document.get("auth"), dict) and "secret" in document["auth"]:
                raise ValueError("give the secret once: as 'secret' or as 'auth.secret'")
            merged["auth"] = {**auth, "secret": document["secret"]}
    return merged
