"""The workflows the ingress routes events to, reloadable while it runs.

:class:`LiveWorkflows` loads the folder, publishes every revision to the
:class:`~hub.workflow.revisions.WorkflowStore` and only then swaps the set new events are
routed to. Tasks already queued name the revision they started on and keep running on
it (the store keeps old revisions readable). A folder that no longer validates is not
loaded: the current set stays, and the problems are logged with their positions.

Reloads happen on :meth:`reload` (``hub serve`` calls it on SIGHUP) and, when
``HUB_RELOAD_SECONDS`` is set, whenever the files' contents changed
(:meth:`reload_if_changed`, polled by :meth:`watch`).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hub.workflow.loader import load_folder
from hub.workflow.model import Workflow
from hub.workflow.problems import WorkflowError
from hub.workflow.revisions import WorkflowStore

__all__ = ["Changes", "LiveWorkflows"]

log = logging.getLogger("hub.workflow")


@dataclass(frozen=True)
class Changes:
    """What a reload changed, by workflow name."""

    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.removed)

    def __str__(self) -> str:
        parts = [
            f"{label} {', '.join(names)}"
            for label, names in (
                ("added", self.added),
                ("changed", self.changed),
                ("removed", self.removed),
            )
            if names
        ]
        return "; ".join(parts) or "no changes"


class LiveWorkflows:
    """A folder's workflows, published and swapped in as a whole."""

    def __init__(
        self,
        folder: Path,
        store: WorkflowStore,
        *,
        loader: Callable[[Path], list[Workflow]] = load_folder,
    ) -> None:
        self.folder = Path(folder)
        self._store = store
        self._loader = loader
        self._workflows: tuple[Workflow, ...] = ()
        self._fingerprint = ""
        self._lock = threading.Lock()

    @property
    def workflows(self) -> tuple[Workflow, ...]:
        """The current set (replaced as a whole by a reload, never changed in place)."""
        return self._workflows

    def revisions(self) -> dict[str, str]:
        """Workflow name -> current revision."""
        return {wf.name: wf.revision for wf in self._workflows}

    def reload(self) -> Changes:
        """Load, publish and swap in the folder's workflows.

        Raises :class:`WorkflowError` (the current set stays) when any file is invalid.
        """
        with self._lock:
            fingerprint = self._fingerprint_now()
            workflows = self._loader(self.folder)
            self._store.publish(workflows, replace=True)
            before = self.revisions()
            self._workflows = tuple(workflows)
            self._fingerprint = fingerprint
            after = self.revisions()
        return Changes(
            added=tuple(sorted(set(after) - set(before))),
            changed=tuple(sorted(n for n in after if n in before and after[n] != before[n])),
            removed=tuple(sorted(set(before) - set(after))),
        )

    def reload_if_changed(self) -> Changes | None:
        """:meth:`reload` when a file was added, removed or edited since the last load."""
        if self._fingerprint_now() == self._fingerprint:
            return None
        return self.reload()

    def watch(
        self, *, interval: float | None, wake: threading.Event, stop: threading.Event
    ) -> threading.Thread:
        """A daemon thread that reloads when ``wake`` is set, and every ``interval``
        seconds when the files changed; it ends when ``stop`` is set."""

        def loop() -> None:
            while not stop.is_set():
                woken = wake.wait(interval)
                if stop.is_set():
                    return
                wake.clear()
                self._try(self.reload if woken else self.reload_if_changed)

        thread = threading.Thread(target=loop, name="workflow-reload", daemon=True)
        thread.start()
        return thread

    def _try(self, action: Callable[[], Changes | None]) -> None:
        try:
            changes = action()
        except WorkflowError as exc:
            log.error("workflows in %s not reloaded, the current ones stay:\n%s", self.folder, exc)
            return
        except Exception:
            log.exception("workflows in %s not reloaded, the current ones stay", self.folder)
            return
        if changes is not None:
            revisions = ", ".join(f"{n}@{r}" for n, r in sorted(self.revisions().items()))
            log.info("workflows reloaded from %s: %s (now %s)", self.folder, changes, revisions)

    def _fingerprint_now(self) -> str:
        digest = hashlib.sha256()
        if self.folder.is_dir():
            for path in sorted(self.folder.iterdir()):
                if (
                    path.is_file()
                    and path.suffix in (".yaml", ".yml")
                    and not path.name.endswith((".test.yaml", ".test.yml"))
                ):
                    digest.update(path.name.encode() + b"\0")
                    try:
                        digest.update(hashlib.sha256(path.read_bytes()).digest())
                    except OSError:
                        digest.update(b"unreadable")
        return digest.hexdigest()
