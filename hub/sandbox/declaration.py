"""What a connector declares about its sandbox, so every command can run it.

A connector with an upstream ships a sandbox (an ASGI app playing that upstream, built
from this kit) and declares it as a :class:`Sandbox`: how to build the app and its config,
the port ``hub up`` serves it on, when the real upstream is configured instead, the
settings that point the connector at a sandbox, the resources ``hub test``'s ``given`` and
``expect.upstream`` name, and how records look through the API. ``hub up``, ``hub sandbox``
and ``hub test`` read nothing else.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel
from starlette.applications import Starlette

from hub.sandbox.clock import Clock
from hub.sandbox.control import Present
from hub.sandbox.envconfig import config_from_env

__all__ = ["AppFactory", "Sandbox", "as_stored", "record_line"]

S = TypeVar("S")


class AppFactory(Protocol):
    """A sandbox module's ``create_app``: the app for ``config``, answering on ``clock``."""

    def __call__(self, config: Any, *, clock: Clock | None = None) -> Starlette: ...


def as_stored(resource: str, record: dict[str, Any]) -> dict[str, Any]:
    """A record as the API shows it: as stored."""
    return record


def record_line(resource: str, record: Mapping[str, Any]) -> str:
    """A record on one line: its JSON."""
    return json.dumps(record, default=str, sort_keys=True)


def _no_config() -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class Sandbox(Generic[S]):
    """A connector's sandbox; ``S`` is the connector's settings class.

    - ``create_app`` and ``config``: the app, from its config model (which takes
      ``random_seed``); ``hub sandbox`` reads the config from ``<env_prefix><FIELD>``
      variables, ``hub test`` adds ``test_config()`` to it.
    - ``port``: the port ``hub up`` and ``hub sandbox`` serve it on, from the settings;
      ``port_setting`` names the variable that sets it (``hub up`` names it when the port
      is in use).
    - ``configured``: whether the settings name a real upstream (``hub up`` then leaves
      the sandbox out).
    - ``env``: the settings (environment names) that point the connector at this sandbox
      served at a base URL with a config: its URL and the sandbox's credentials.
    - ``resources``: what ``given`` seeds and ``expect.upstream`` reads in ``hub test``.
    - ``present`` / ``accept``: a stored record as the API shows it, and back (``given``
      and ``expect.upstream`` are written as the API shows records).
    - ``describe``: a record on one line, for ``hub up --demo``'s summary.
    """

    create_app: AppFactory
    config: type[BaseModel]
    env_prefix: str
    port: Callable[[S], int]
    configured: Callable[[S], bool]
    env: Callable[[str, Any], Mapping[str, str]]
    resources: frozenset[str]
    present: Present = as_stored
    accept: Present = as_stored
    test_config: Callable[[], Mapping[str, Any]] = _no_config
    describe: Callable[[str, Mapping[str, Any]], str] = record_line
    port_setting: str | None = None

    def port_setting_name(self, connector: str) -> str:
        """The variable that sets the port, as an operator would look for it."""
        return self.port_setting or f"the {connector} sandbox's port setting"

    def config_from_env(self) -> BaseModel:
        """The config ``hub sandbox`` runs with: ``<env_prefix><FIELD>`` variables."""
        return config_from_env(self.config, self.env_prefix)

    def app_from_env(self) -> Starlette:
        """The app configured from the environment (a uvicorn factory)."""
        return self.create_app(self.config_from_env())

    def test_app(self, clock: Clock, seed: int) -> Starlette:
        """The app ``hub test`` runs: seeded, on the runner's clock."""
        config = self.config(random_seed=seed, **self.test_config())
        return self.create_app(config, clock=clock)
