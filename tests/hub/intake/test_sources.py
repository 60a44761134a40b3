"""Source files: checked with positions, secrets resolved from settings, local-run rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.core.errors import ConfigError
from hub.core.settings import Settings
from hub.intake import credentials as cred
from hub.intake import signatures as sig
from hub.intake.resolve import build_sources
from hub.intake.sources import SourceError, load_sources
from tests.hub.ingress.conftest import ROOT, SECRET
from tests.support.signing import SAMPLE_SECRETS


def _write(tmp_path: Path, name: str, text: str) -> Path:
    (tmp_path / f"{name}.yaml").write_text(text)
    return tmp_path


def _problems(tmp_path: Path) -> list[str]:
    with pytest.raises(SourceError) as caught:
        load_sources(tmp_path)
    return [f"{p.line}:{p.column}: {p.message}" for p in caught.value.problems]


def test_the_sample_crm_source_loads_and_resolves() -> None:
    configs = load_sources(ROOT / "workflows" / "sources")
    settings = Settings(hub_secrets={**SAMPLE_SECRETS, "CRM_SIGNING_KEY": SECRET})
    crm = build_sources(configs, settings, {"crm"}, local=False)["crm"]
    assert isinstance(crm.verifier, sig.StandardWebhooks)
    assert crm.id_at.headers == ("webhook-id",) and crm.id_required
    assert crm.event_type({"x-event-type": "a.b"}, {"type": "c.d"}) == "a.b"
    assert crm.event_type({}, {"type": "c.d"}) == "c.d"
    assert crm.max_body_bytes == 262144


def test_problems_name_file_line_and_column(tmp_path: Path) -> None:
    _write(tmp_path, "crm", "auth:\n  scheme: hmac\n  secret: '{{ secrets.K }}'\n  algo: sha1\n")
    assert _problems(tmp_path) == ["4:3: unknown field 'algo' (did you mean 'algorithm'?)"]


def test_an_unknown_field_lists_the_fields_allowed_there(tmp_path: Path) -> None:
    _write(tmp_path, "crm", "preset: stripe\nsecret: '{{ secrets.K }}'\nsigning: x\n")
    (problem,) = _problems(tmp_path)
    assert problem.startswith("3:1: unknown field 'signing' (allowed in a source file: ")
    for name in ("preset", "secret", "auth", "event_type", "event_id", "batch", "handshakes"):
        assert name in problem


def test_a_secret_written_in_the_file_is_refused(tmp_path: Path) -> None:
    _write(tmp_path, "crm", "auth:\n  scheme: bearer\n  secret: hunter2\n")
    (problem,) = _problems(tmp_path)
    assert problem.startswith("2:3:") and "{{ secrets.NAME }}" in problem
    assert "hunter2" not in problem


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("event_type: {path: type}\n", "missing the required field 'auth'"),
        ("auth: {scheme: hmac, secret: '{{ secrets.K }}'}\n", "needs the signature 'header'"),
        (
            "auth: {scheme: github, secret: '{{ secrets.K }}', header: X}\n",
            "header does not apply to scheme 'github'",
        ),
        ("auth: {scheme: none}\nevent_id: {required: true}\n", "give a 'header', a 'path'"),
        ("auth: {scheme: none}\nmax_body_bytes: 0\n", "greater than 0"),
        ("auth: {scheme: magic}\n", "'standard-webhooks'"),
    ],
)
def test_invalid_files(tmp_path: Path, text: str, expected: str) -> None:
    _write(tmp_path, "crm", text)
    (problem,) = _problems(tmp_path)
    assert expected in problem


def test_a_file_name_must_be_a_source_name(tmp_path: Path) -> None:
    _write(tmp_path, "Bad Name", "auth: {scheme: none}\n")
    assert "not a source name" in _problems(tmp_path)[0]


def test_a_missing_secret_is_named_without_any_value(tmp_path: Path) -> None:
    _write(tmp_path, "crm", "auth: {scheme: bearer, secret: '{{ secrets.CRM_TOKEN }}'}\n")
    settings = Settings(hub_secrets={"OTHER": "value-123"})
    with pytest.raises(ConfigError, match="secret CRM_TOKEN is not set in HUB_SECRETS") as caught:
        build_sources(load_sources(tmp_path), settings, set(), local=True)
    assert "value-123" not in str(caught.value)


def test_a_malformed_standard_webhooks_secret_is_refused(tmp_path: Path) -> None:
    _write(tmp_path, "crm", "auth: {scheme: standard-webhooks, secret: '{{ secrets.K }}'}\n")
    settings = Settings(hub_secrets={"K": "change-me!"})
    with pytest.raises(ConfigError, match="K is not a Standard Webhooks secret"):
        build_sources(load_sources(tmp_path), settings, set(), local=True)


def test_unconfigured_sources_only_in_local_mode(tmp_path: Path) -> None:
    settings = Settings(hub_workflows=tmp_path)
    local = build_sources({}, settings, {"shop"}, local=True)["shop"]
    assert isinstance(local.verifier, cred.NoAuth) and not local.configured
    assert local.id_at.headers == ("X-Event-Id", "webhook-id") and local.id_at.paths == ("id",)
    with pytest.raises(ConfigError, match="source 'shop' has workflows but no"):
        build_sources({}, settings, {"shop"}, local=False)


def test_explicit_no_auth_is_allowed_anywhere(tmp_path: Path) -> None:
    _write(tmp_path, "open", "auth: {scheme: none}\ndedupe_seconds: 60\n")
    open_ = build_sources(load_sources(tmp_path), Settings(), {"open"}, local=False)["open"]
    assert isinstance(open_.verifier, cred.NoAuth) and open_.dedupe_seconds == 60


@pytest.mark.parametrize(
    ("scheme", "kind"),
    [
        ("github", sig.Hmac),
        ("stripe", sig.Stripe),
        ("shared-secret", cred.SharedSecret),
        ("bearer", cred.Bearer),
    ],
)
def test_every_scheme_builds(tmp_path: Path, scheme: str, kind: type) -> None:
    _write(
        tmp_path,
        "s",
        f"auth: {{scheme: {scheme}, secret: ['{{{{ secrets.A }}}}', '{{{{ secrets.B }}}}']}}\n",
    )
    settings = Settings(hub_secrets={"A": "one", "B": "two"})
    verifier = build_sources(load_sources(tmp_path), settings, set(), local=False)["s"].verifier
    assert isinstance(verifier, kind)
    assert verifier.keys == (b"one", b"two")  # type: ignore[attr-defined]


def test_hub_validate_checks_source_files(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from hub.cli.app import cli

    (tmp_path / "sources").mkdir()
    good = CliRunner().invoke(cli, ["validate", str(ROOT / "workflows")])
    assert good.exit_code == 0 and "source crm  auth standard-webhooks" in good.output
    _write(tmp_path / "sources", "shop", "auth:\n  scheme: bearer\n  secret: plain\n")
    bad = CliRunner().invoke(cli, ["validate", str(tmp_path)])
    assert bad.exit_code == 1
    assert "sources/shop.yaml:2:3:" in bad.output and "plain" not in bad.output


def test_a_file_for_the_built_in_source_hub_is_refused(tmp_path: Path) -> None:
    (tmp_path / "hub.yaml").write_text("auth: { scheme: none }\n")
    with pytest.raises(SourceError) as caught:
        load_sources(tmp_path)
    assert "source 'hub' is built in" in str(caught.value)
