"""intake: a delivery (webhook, polled record, replay, test case) becomes a plan of runs.

- :mod:`~hub.intake.delivery`: the kinds of delivery, and :class:`~hub.intake.delivery.Event`.
- :mod:`~hub.intake.plan`: :class:`~hub.intake.plan.Intake`, the one place that routes,
  evaluates the workflow-level ``if`` and names the event id to dedupe on.
- :mod:`~hub.intake.webhook`: reading a webhook delivery (authentication, JSON, type, id).
- :mod:`~hub.intake.batch`: a delivery that carries many events, one per element.
- :mod:`~hub.intake.handshakes`: verification handshakes, answered without a run.
- :mod:`~hub.intake.sources`, :mod:`~hub.intake.presets`, :mod:`~hub.intake.resolve`:
  source files, the senders the hub knows by name, the sources the ingress serves.
- :mod:`~hub.intake.signatures`, :mod:`~hub.intake.credentials`,
  :mod:`~hub.intake.secret_refs`: the signature schemes, the credential schemes (shared
  secret, bearer, Basic), secrets as files name them.
- :mod:`~hub.intake.extract`, :mod:`~hub.intake.routing`: where values are read in a
  delivery (headers, paths, formats); which workflows match.
- :mod:`~hub.intake.demo`: signed deliveries with a stand-in secret for local runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hub.core import lazy_exports

if TYPE_CHECKING:
    from hub.intake.delivery import (
        DeadLetterReplay,
        Delivery,
        Event,
        HubEvent,
        PolledRecord,
        Webhook,
    )
    from hub.intake.demo import signed_delivery, stand_in_secrets, with_demo_secrets
    from hub.intake.extract import Locator
    from hub.intake.handshakes import Reply
    from hub.intake.plan import Batch, Intake, Plan, PlannedRun
    from hub.intake.resolve import build_sources
    from hub.intake.routing import json_path
    from hub.intake.signatures import StandardWebhooks, standard_webhooks_key
    from hub.intake.sources import (
        HUB_SOURCE,
        Source,
        SourceConfig,
        SourceError,
        load_sources,
        sources_folder,
    )
    from hub.intake.webhook import Refused, internal_source, unknown_source

__all__ = [
    "HUB_SOURCE",
    "Batch",
    "DeadLetterReplay",
    "Delivery",
    "Event",
    "HubEvent",
    "Intake",
    "Locator",
    "Plan",
    "PlannedRun",
    "PolledRecord",
    "Refused",
    "Reply",
    "Source",
    "SourceConfig",
    "SourceError",
    "StandardWebhooks",
    "Webhook",
    "build_sources",
    "internal_source",
    "json_path",
    "load_sources",
    "signed_delivery",
    "sources_folder",
    "stand_in_secrets",
    "standard_webhooks_key",
    "unknown_source",
    "with_demo_secrets",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "routing": ("json_path",),
        "extract": ("Locator",),
        "handshakes": ("Reply",),
        "delivery": (
            "DeadLetterReplay",
            "Delivery",
            "Event",
            "HubEvent",
            "PolledRecord",
            "Webhook",
        ),
        "demo": (
            "signed_delivery",
            "stand_in_secrets",
            "with_demo_secrets",
        ),
        "plan": (
            "Batch",
            "Intake",
            "Plan",
            "PlannedRun",
        ),
        "resolve": ("build_sources",),
        "signatures": (
            "StandardWebhooks",
            "standard_webhooks_key",
        ),
        "sources": (
            "HUB_SOURCE",
            "Source",
            "SourceConfig",
            "SourceError",
            "load_sources",
            "sources_folder",
        ),
        "webhook": (
            "Refused",
            "internal_source",
            "unknown_source",
        ),
    },
)
