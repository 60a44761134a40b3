"""Signed deliveries for tests that POST to the sample ``crm`` source (Standard Webhooks)."""

from __future__ import annotations

import json
import time
from typing import Any

from hub.intake.signatures import StandardWebhooks, standard_webhooks_key

__all__ = ["CRM_SIGNING_KEY", "SAMPLE_SECRETS", "crm_delivery"]

#: the CRM_SIGNING_KEY that HubProcesses gives the ingress (test value, base64 of 24 bytes)
CRM_SIGNING_KEY = "whsec_dGVzdC1jcm0tc2lnbmluZy1rZXktMDAx"
#: every secret the sample source files name (workflows/sources), test values
SAMPLE_SECRETS = {
    "CRM_SIGNING_KEY": CRM_SIGNING_KEY,
    "HUBSPOT_CLIENT_SECRET": "test-hubspot-client-secret",
    "PIPEDRIVE_WEBHOOK_AUTH": "hub:test-pipedrive",
}


def crm_delivery(body: Any, event_id: str, **headers: str) -> dict[str, Any]:
    """``httpx.post`` keyword arguments for ``body`` (JSON-encoded unless already bytes)
    signed as the crm source requires."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    signer = StandardWebhooks((standard_webhooks_key(CRM_SIGNING_KEY),))
    signed = signer.sign(raw, event_id, time.time())
    return {"content": raw, "headers": {"Content-Type": "application/json", **headers, **signed}}
