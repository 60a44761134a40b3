"""Readers for the deploy files: YAML documents, the Dockerfile, setting and command names."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

import typer.main
import yaml
from pydantic import SecretStr

from hub.cli.app import cli
from hub.connector.registry import settings_classes
from hub.core.env_settings import env_names as settings_env_names

__all__ = [
    "DEPLOY",
    "ROOT",
    "Instruction",
    "K8sDoc",
    "code_in_markdown",
    "compose",
    "deploy_text_files",
    "dockerfile",
    "env_names",
    "hub_commands",
    "hub_commands_in_text",
    "k8s_docs",
    "pod_spec",
    "secret_setting_names",
    "setting_names",
]

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"

#: `HUB_...` / `PLUTIO_...` words; a trailing `_` or `*` (`HUB_*`) is a prefix, not a name
_ENV_NAME = re.compile(r"(?<![A-Za-z0-9_])((?:HUB|PLUTIO)_[A-Z0-9_]*[A-Z0-9])(?![A-Za-z0-9_])")
#: `hub <command>` where a shell command starts (line start, `$ `, after && || ; | or `(`)
_HUB_AT_COMMAND_START = re.compile(
    r"(?m)(?:^[ \t]*(?:\$[ \t]+)?|(?:&&|\|\||[;|(])[ \t]*)hub[ \t]+([a-z][a-z-]*)"
)
#: `docker run ... <registry>/hub:<tag> <command>`
_HUB_IMAGE_THEN_COMMAND = re.compile(r"[\w.-]*/hub:[\w.-]+[ \t]+([a-z][a-z-]*)")


def setting_names() -> set[str]:
    """Every environment variable the hub reads: its own settings' and each connector's."""
    return {name for cls in settings_classes() for name in settings_env_names(cls)}


def secret_setting_names() -> set[str]:
    """Settings that must only come from Secrets / env files.

    Every ``SecretStr`` field (also inside ``dict[str, SecretStr]``), plus
    ``HUB_REDIS_URL``, which carries the Redis password.
    """

    def holds_secret(annotation: Any) -> bool:
        return annotation is SecretStr or any(holds_secret(a) for a in get_args(annotation))

    names = {
        env
        for cls in settings_classes()
        for env, name in settings_env_names(cls).items()
        if holds_secret(cls.model_fields[name].annotation)
    }
    return names | {"HUB_REDIS_URL"}


def env_names(text: str) -> set[str]:
    return set(_ENV_NAME.findall(text))


def deploy_text_files() -> list[Path]:
    """Every file under deploy/ except an operator's own, git-ignored ``deploy/.env``."""
    return sorted(
        p
        for p in DEPLOY.rglob("*")
        if p.is_file() and p != DEPLOY / ".env" and "__pycache__" not in p.parts
    )


def hub_commands() -> set[str]:
    """The commands registered on the ``hub`` Typer app."""
    group = typer.main.get_command(cli)
    commands: dict[str, Any] = getattr(group, "commands", {})
    return set(commands)


def code_in_markdown(text: str) -> list[str]:
    """Fenced code blocks and inline code spans of a Markdown text."""
    fenced = re.findall(r"(?ms)^```[^\n]*\n(.*?)^```", text)
    prose = re.sub(r"(?ms)^```[^\n]*\n.*?^```", "", text)
    return fenced + re.findall(r"`([^`\n]+)`", prose)


def hub_commands_in_text(text: str) -> set[str]:
    """``hub <command>`` in shell-like text, and ``.../hub:<tag> <command>``."""
    return set(_HUB_AT_COMMAND_START.findall(text)) | set(_HUB_IMAGE_THEN_COMMAND.findall(text))


# --- YAML -------------------------------------------------------------------------------


def compose() -> dict[str, Any]:
    data = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    assert isinstance(data, dict)
    return data


@dataclass(frozen=True)
class K8sDoc:
    path: Path
    body: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.body.get("kind"))

    @property
    def name(self) -> str:
        return str(self.body.get("metadata", {}).get("name"))

    def __str__(self) -> str:
        return f"{self.path.relative_to(ROOT)}: {self.kind}/{self.name}"


def k8s_docs() -> list[K8sDoc]:
    """Every non-empty document of every YAML file under deploy/k8s/."""
    docs: list[K8sDoc] = []
    for path in sorted((DEPLOY / "k8s").glob("*.y*ml")):
        for body in yaml.safe_load_all(path.read_text()):
            if body is not None:
                assert isinstance(body, dict), f"{path}: a document is not a mapping"
                docs.append(K8sDoc(path, body))
    return docs


def pod_spec(doc: K8sDoc) -> dict[str, Any]:
    spec: dict[str, Any] = doc.body["spec"]["template"]["spec"]
    return spec


# --- Dockerfile -------------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    stage: int  # index of the FROM that opened the stage; -1 before the first FROM
    keyword: str  # upper-cased: FROM, RUN, COPY, ...
    args: str  # the rest, continuation lines joined

    def words(self) -> list[str]:
        return shlex.split(self.args)


def _logical_lines(text: str) -> Iterator[str]:
    buffer: list[str] = []
    for raw in text.splitlines():
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and not buffer):
            continue  # comments (and parser directives) and blank lines
        if stripped.endswith("\\"):
            buffer.append(stripped[:-1].strip())
            continue
        buffer.append(stripped)
        yield " ".join(part for part in buffer if part)
        buffer = []
    if buffer:
        yield " ".join(buffer)


def dockerfile(path: Path = DEPLOY / "Dockerfile") -> list[Instruction]:
    """The instructions of a Dockerfile, in order, with the stage each belongs to."""
    out: list[Instruction] = []
    stage = -1
    for line in _logical_lines(path.read_text()):
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        out.append(Instruction(stage, keyword, args.strip()))
    return out
