"""Workflows by revision, shared through Redis so every run finishes on its own revision.

The ingress publishes each loaded workflow's source under its content hash; a worker
asked to run revision ``r`` parses that exact text (cached per process), even after the
file on disk changed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from hub.core import ConfigError
from hub.workflow.loader import load_workflow_text
from hub.workflow.model import Workflow

__all__ = ["WorkflowStore"]

_KEY = "hub:workflow:rev:{}"
_CURRENT = "hub:workflow:current"


class WorkflowStore:
    """Publish and fetch workflow sources by revision."""

    def __init__(self, redis: Any) -> None:
        self._redis = redis
        self._cache: dict[str, Workflow] = {}

    def publish(self, workflows: Iterable[Workflow], *, replace: bool = False) -> None:
        """Store each workflow's source under its revision and make it current.

        With ``replace``, workflows not given stop being current (their revisions stay
        readable, so runs in flight on them finish).
        """
        workflows = list(workflows)
        pipe = self._redis.pipeline()
        for wf in workflows:
            self._cache[wf.revision] = wf
            payload = json.dumps({"path": wf.source_path, "text": wf.source_text})
            pipe.set(_KEY.format(wf.revision), payload)
            pipe.hset(_CURRENT, wf.name, wf.revision)
        if replace:
            gone = set(self.current()) - {wf.name for wf in workflows}
            if gone:
                pipe.hdel(_CURRENT, *sorted(gone))
        pipe.execute()

    def add_local(self, workflows: Iterable[Workflow]) -> None:
        """Make workflows known to this process without publishing them."""
        for wf in workflows:
            self._cache[wf.revision] = wf

    def get(self, revision: str) -> Workflow:
        cached = self._cache.get(revision)
        if cached is not None:
            return cached
        raw = self._redis.get(_KEY.format(revision))
        if raw is None:
            raise ConfigError(f"workflow revision {revision} is not published in Redis")
        data = json.loads(raw)
        wf = load_workflow_text(data["text"], data["path"])
        self._cache[revision] = wf
        return wf

    def current(self) -> dict[str, str]:
        """Workflow name -> revision the ingress currently routes to."""
        raw: dict[bytes, bytes] = self._redis.hgetall(_CURRENT)
        return {k.decode(): v.decode() for k, v in raw.items()}
