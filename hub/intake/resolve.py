"""Sources as the ingress serves them: secrets resolved, verifiers built, defaults filled.

A source that workflows listen to but that has no file gets the settings' defaults and
no authentication, which :func:`build_sources` allows in local mode only (``hub up``
sets ``HUB_LOCAL_MODE``; the address the ingress listens on decides nothing); elsewhere
every source needs a file, ``auth: {scheme: none}`` being written, never implied. A
secret a file names (its auth's, its handshakes') must be in ``HUB_SECRETS``; errors
name the secret, never a value.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Literal

from pydantic import SecretStr

from hub.core import ConfigError, Settings
from hub.intake import signatures as sig
from hub.intake.credentials import Basic, Bearer, NoAuth, SharedSecret
from hub.intake.extract import Locator
from hub.intake.handshakes import (
    ChallengeConfig,
    Echo,
    EchoConfig,
    Handshake,
    HubChallenge,
    ZoomConfig,
    ZoomValidation,
)
from hub.intake.secret_refs import ref_names
from hub.intake.sources import (
    HUB_SOURCE,
    AuthConfig,
    FieldConfig,
    Source,
    SourceConfig,
    sources_folder,
)

__all__ = ["build_sources", "missing_file"]


def build_sources(
    configs: Mapping[str, tuple[SourceConfig, str]],
    settings: Settings,
    listened: Collection[str],
    *,
    local: bool,
) -> dict[str, Source]:
    """Every source the ingress serves: configured ones and those workflows listen to.

    Raises :class:`ConfigError` for a missing or malformed secret, and outside ``local``
    mode for a listened-to source without a file (:func:`missing_file`). The built-in
    source ``hub`` is never served: its events come from inside the hub.
    """
    secrets = settings.hub_secrets
    errors: list[str] = []
    sources: dict[str, Source] = {}
    for name, (config, path) in configs.items():
        try:
            sources[name] = _configured(name, config, secrets, settings)
        except ValueError as exc:
            errors.append(f"{path}: {exc}")
    folder = sources_folder(settings)
    for name in sorted(set(listened) - set(configs) - {HUB_SOURCE}):
        if not local:
            errors.append(missing_file(name, folder / f"{name}.yaml"))
            continue
        sources[name] = _default(name, settings)
    if errors:
        raise ConfigError("\n".join(errors))
    return sources


def missing_file(name: str, path: Path) -> str:
    """Why a source ``name`` that workflows listen to cannot be served without ``path``."""
    return (
        f"source '{name}' has workflows but no file {path}: outside `hub up` every source "
        "says how its deliveries are authenticated, e.g. `auth: {scheme: standard-webhooks, "
        'secret: "{{ secrets.NAME }}"}`; if anyone on the network may really post to '
        f"/hooks/{name}, write `auth: {{scheme: none}}` in that file"
    )


def _default(name: str, settings: Settings) -> Source:
    return Source(
        name=name,
        verifier=NoAuth(),
        type_at=Locator(("X-Event-Type",), (settings.hub_event_type_path,)),
        id_at=Locator(("X-Event-Id", "webhook-id"), (settings.hub_event_id_path,)),
        id_required=False,
        max_body_bytes=settings.hub_max_body_bytes,
        dedupe_seconds=settings.hub_dedupe_seconds,
        configured=False,
        max_json_depth=settings.hub_max_json_depth,
    )


def _configured(
    name: str, config: SourceConfig, secrets: Mapping[str, SecretStr], settings: Settings
) -> Source:
    base = _default(name, settings)
    event_type, event_id, batch = config.event_type, config.event_id, config.batch_path
    if event_id is not None:
        id_at = event_id.locator()
    elif batch is not None:  # in a batch, the ids are in the elements
        id_at = Locator((), base.id_at.paths)
    else:
        id_at = base.id_at
    verifier = _verifier(config.auth, secrets)
    return Source(
        name=name,
        verifier=verifier,
        type_at=event_type.locator() if event_type else base.type_at,
        id_at=id_at,
        id_required=event_id.required if event_id else False,
        max_body_bytes=config.max_body_bytes or base.max_body_bytes,
        dedupe_seconds=config.dedupe_seconds or base.dedupe_seconds,
        configured=True,
        max_json_depth=base.max_json_depth,
        id_fallback=_fallback(event_id, batch),
        batch=batch,
        handshakes=tuple(_post_handshakes(config, secrets)),
        challenge=_challenge(config, secrets),
        signs_url=isinstance(verifier, sig.Hmac) and verifier.signs_url,
    )


def _fallback(event_id: FieldConfig | None, batch: str | None) -> Literal["new", "content"]:
    if event_id is not None and event_id.fallback is not None:
        return event_id.fallback
    return "content" if batch is not None else "new"


def _values(names: list[str], secrets: Mapping[str, SecretStr]) -> list[str]:
    """The values of secrets ``names``; :class:`ValueError` names one missing or empty."""
    missing = [n for n in names if n not in secrets]
    if missing:
        raise ValueError(f"secret {', '.join(missing)} is not set in HUB_SECRETS")
    values = [secrets[n].get_secret_value() for n in names]
    if any(not v for v in values):
        raise ValueError("a secret of this source is empty in HUB_SECRETS")
    return values


def _post_handshakes(config: SourceConfig, secrets: Mapping[str, SecretStr]) -> list[Handshake]:
    out: list[Handshake] = []
    for handshake in config.handshakes:
        if isinstance(handshake, EchoConfig):
            when = tuple(handshake.when.items())
            out.append(Echo(when, handshake.reply, handshake.reply_as, handshake.signed))
        elif isinstance(handshake, ZoomConfig):
            names = ref_names([handshake.secret]) if handshake.secret else config.auth.secret_names
            out.append(ZoomValidation(_values(names[:1], secrets)[0].encode()))
    return out


def _challenge(config: SourceConfig, secrets: Mapping[str, SecretStr]) -> HubChallenge | None:
    for handshake in config.handshakes:
        if isinstance(handshake, ChallengeConfig):
            tokens = _values(handshake.secret_names, secrets)
            return HubChallenge(tuple(t.encode() for t in tokens))
    return None


def _verifier(auth: AuthConfig, secrets: Mapping[str, SecretStr]) -> sig.Verifier:
    if auth.scheme == "none":
        return NoAuth()
    values = _values(auth.secret_names, secrets)
    tolerance, unit = auth.tolerance_seconds, auth.timestamp_unit
    if auth.scheme == "standard-webhooks":
        keys = []
        for secret_name, value in zip(auth.secret_names, values, strict=True):
            try:
                keys.append(sig.standard_webhooks_key(value))
            except ValueError as exc:
                raise ValueError(f"secret {secret_name} {exc}") from None
        return sig.StandardWebhooks(tuple(keys), tolerance, unit)
    raw = tuple(v.encode() for v in values)
    if auth.scheme == "github":
        return sig.github(raw)
    if auth.scheme == "stripe":
        return sig.Stripe(raw, tolerance, unit)
    if auth.scheme == "shared-secret":
        return SharedSecret(raw, auth.header or "X-Webhook-Secret")
    if auth.scheme == "bearer":
        return Bearer(raw)
    if auth.scheme == "basic":
        return Basic(raw)
    assert auth.header is not None  # checked by AuthConfig
    default_payload = "{timestamp}.{body}" if auth.timestamp_header else "{body}"
    return sig.Hmac(
        raw,
        header=auth.header,
        algorithm=auth.algorithm,
        encoding=auth.encoding,
        prefix=auth.prefix,
        timestamp_header=auth.timestamp_header,
        signed_payload=auth.signed_payload or default_payload,
        tolerance=tolerance,
        timestamp_unit=unit,
        uri_decode=auth.uri_decode,
    )
