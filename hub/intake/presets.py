"""Presets: what a real sender's source file would say, named once.

``preset: slack`` in a source file stands for the fields below; any field the file
writes overrides the preset's: ``auth`` field by field (unless the file names another
``scheme``, which drops the preset's auth), every other field as a whole. A top-level
``secret`` is the auth's secret, so the shortest file is two lines::

    preset: slack
    secret: "{{ secrets.SLACK_SIGNING_SECRET }}"

Each preset follows its provider's documentation of its webhooks; the tests sign
deliveries with the provider's own library where one exists (HubSpot, Slack, Stripe).
:data:`PRESETS` are the senders the hub knows without a connector; a connector adds the
presets of its upstream's webhooks (``webhook_presets`` in its declaration), so nothing
here names a connector's upstream. :func:`all_presets` is both.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from hub.core import ConfigError

__all__ = ["PRESETS", "all_presets", "apply_preset"]

PRESETS: dict[str, dict[str, Any]] = {
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


def all_presets() -> dict[str, Mapping[str, Any]]:
    """Every preset: the hub's, then each installed connector's; a name given twice is a
    :class:`~hub.core.errors.ConfigError` naming both."""
    from hub.connector import connectors  # connectors import the hub: imported when used

    found: dict[str, Mapping[str, Any]] = dict(PRESETS)
    owner = dict.fromkeys(PRESETS, "the hub")
    for connector in connectors():
        for name, fields in connector.webhook_presets.items():
            if name in found:
                raise ConfigError(
                    f"preset '{name}' is declared twice: by {owner[name]} and by "
                    f"connector '{connector.name}'"
                )
            found[name], owner[name] = fields, f"connector '{connector.name}'"
    return found


def apply_preset(
    document: dict[str, Any], presets: Mapping[str, Mapping[str, Any]] | None = None
) -> dict[str, Any]:
    """``document`` with its preset's fields (from ``presets``, default
    :func:`all_presets`) under its own and ``secret`` in ``auth``.

    An unknown preset is left for validation to report (with its position); raises
    :class:`ValueError` when the secret is given both ways.
    """
    name = document.get("preset")
    if presets is None and isinstance(name, str):
        presets = all_presets()
    preset = (presets or {}).get(name) if isinstance(name, str) else None
    merged: dict[str, Any] = copy.deepcopy(dict(preset)) if preset else {}
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
