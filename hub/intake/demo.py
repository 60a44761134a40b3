"""Signed deliveries for local runs: ``hub up --demo``, the bench, ``hub test``, trying a
source out.

:data:`DEMO_SECRET` stands in for any secret a source file names but ``HUB_SECRETS``
lacks, in local runs only (``hub up``, which sets ``HUB_LOCAL_MODE``), the way a connector's
sandbox credentials stand in for real ones. It is public: never use it for a real sender.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Mapping
from typing import Any

from pydantic import SecretStr

from hub.core import Settings
from hub.intake.resolve import build_sources
from hub.intake.sources import SourceConfig, load_sources, sources_folder

__all__ = ["DEMO_SECRET", "signed_delivery", "stand_in_secrets", "with_demo_secrets"]

DEMO_SECRET = "whsec_" + base64.b64encode(b"hub local demo key - not a secret").decode()


def with_demo_secrets(settings: Settings) -> dict[str, str]:
    """``HUB_SECRETS`` plus :data:`DEMO_SECRET` for every source secret it lacks."""
    secrets = {name: value.get_secret_value() for name, value in settings.hub_secrets.items()}
    return stand_in_secrets(load_sources(sources_folder(settings)), secrets)


def stand_in_secrets(
    configs: Mapping[str, tuple[SourceConfig, str]], secrets: Mapping[str, str]
) -> dict[str, str]:
    """``secrets`` plus :data:`DEMO_SECRET` for every secret the source files name that
    ``secrets`` lacks (``hub test`` signs its cases' deliveries with them)."""
    filled = dict(secrets)
    for config, _path in configs.values():
        for name in config.secret_names:
            filled.setdefault(name, DEMO_SECRET)
    return filled


def signed_delivery(
    settings: Settings,
    source: str,
    body: Any,
    headers: Mapping[str, str] | None = None,
    *,
    now: float | None = None,
    url: str = "",
) -> tuple[bytes, dict[str, str]]:
    """The bytes and headers to POST ``body`` to ``source`` at ``url``, signed as it
    requires (``url`` matters to schemes that sign it).

    Secrets come from ``settings`` and, for names it lacks, :data:`DEMO_SECRET`.
    """
    secrets = {k: SecretStr(v) for k, v in with_demo_secrets(settings).items()}
    local = settings.model_copy(update={"hub_secrets": secrets})
    configs = load_sources(sources_folder(local))
    verifier = build_sources(configs, local, {source}, local=True)[source].verifier
    raw = json.dumps(body).encode()
    given = dict(headers or {})
    event_id = str(
        given.get("X-Event-Id") or (body.get("id") if isinstance(body, dict) else "") or ""
    )
    signed = verifier.sign(raw, event_id, time.time() if now is None else now, url=url)
    return raw, {"Content-Type": "application/json", **given, **signed}
