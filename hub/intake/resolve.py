"""Sources as the ingress serves them: secrets resolved, verifiers built, defaults filled.

A source that workflows listen to but that has no file gets the settings' defaults and
no authentication, which :func:`build_sources` allows in local runs only (an ingress
bound to a loopback address); elsewhere every source needs a file, ``auth: {scheme:
none}`` being an explicit choice. A secret a file names must be in ``HUB_SECRETS``;
errors name the secret, never a value.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Mapping

from pydantic import SecretStr

from hub.core import ConfigError, Settings
from hub.intake import signatures as sig
from hub.intake.sources import AuthConfig, Source, SourceConfig, sources_folder

__all__ = ["build_sources", "is_loopback"]


def is_loopback(host: str) -> bool:
    """True for a bind address only this machine can reach."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def build_sources(
    configs: Mapping[str, tuple[SourceConfig, str]],
    settings: Settings,
    listened: Collection[str],
    *,
    local: bool,
) -> dict[str, Source]:
    """Every source the ingress serves: configured ones and those workflows listen to.

    Raises :class:`ConfigError` for a missing or malformed secret, and outside ``local``
    runs for a listened-to source without a file.
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
    for name in sorted(set(listened) - set(configs)):
        if not local:
            errors.append(
                f"source '{name}' has workflows but no {folder / (name + '.yaml')}: outside "
                "local runs every source states its auth (`auth: {scheme: none}` to accept "
                "anyone)"
            )
            continue
        sources[name] = _default(name, settings)
    if errors:
        raise ConfigError("\n".join(errors))
    return sources


def _default(name: str, settings: Settings) -> Source:
    return Source(
        name=name,
        verifier=sig.NoAuth(),
        type_headers=("X-Event-Type",),
        type_path=settings.hub_event_type_path,
        id_headers=("X-Event-Id", "webhook-id"),
        id_path=settings.hub_event_id_path,
        id_required=False,
        max_body_bytes=settings.hub_max_body_bytes,
        dedupe_seconds=settings.hub_dedupe_seconds,
        configured=False,
    )


def _configured(
    name: str, config: SourceConfig, secrets: Mapping[str, SecretStr], settings: Settings
) -> Source:
    base = _default(name, settings)
    event_type, event_id = config.event_type, config.event_id
    return Source(
        name=name,
        verifier=_verifier(config.auth, secrets),
        type_headers=event_type.headers if event_type else base.type_headers,
        type_path=event_type.path if event_type else base.type_path,
        id_headers=event_id.headers if event_id else base.id_headers,
        id_path=event_id.path if event_id else base.id_path,
        id_required=event_id.required if event_id else False,
        max_body_bytes=config.max_body_bytes or base.max_body_bytes,
        dedupe_seconds=config.dedupe_seconds or base.dedupe_seconds,
        configured=True,
    )


def _verifier(auth: AuthConfig, secrets: Mapping[str, SecretStr]) -> sig.Verifier:
    if auth.scheme == "none":
        return sig.NoAuth()
    missing = [n for n in auth.secret_names if n not in secrets]
    if missing:
        raise ValueError(f"secret {', '.join(missing)} is not set in HUB_SECRETS")
    values = [secrets[n].get_secret_value() for n in auth.secret_names]
    if any(not v for v in values):
        raise ValueError("a secret of this source is empty in HUB_SECRETS")
    tolerance = auth.tolerance_seconds
    if auth.scheme == "standard-webhooks":
        keys = []
        for secret_name, value in zip(auth.secret_names, values, strict=True):
            try:
                keys.append(sig.standard_webhooks_key(value))
            except ValueError as exc:
                raise ValueError(f"secret {secret_name} {exc}") from None
        return sig.StandardWebhooks(tuple(keys), tolerance)
    raw = tuple(v.encode() for v in values)
    if auth.scheme == "github":
        return sig.github(raw)
    if auth.scheme == "stripe":
        return sig.Stripe(raw, tolerance)
    if auth.scheme == "shared-secret":
        return sig.SharedSecret(raw, auth.header or "X-Webhook-Secret")
    if auth.scheme == "bearer":
        return sig.Bearer(raw)
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
    )
