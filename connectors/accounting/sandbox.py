"""The accounting sandbox: an endpoint taking rows by POST, and the export folder's rows.

- ``POST /{path}`` with a JSON object and an ``Idempotency-Key`` header: 201 with
  ``{"id", "key", "entry"}``, stored as an ``entries`` record (``_path``, ``_key`` and the
  body); the same key again answers the first answer with 200 and
  ``Idempotent-Replayed: true`` (another body under a used key: 422); no key: 400. With
  a ``token`` configured, ``Authorization: Bearer <token>`` is required (401).
- With an ``export_dir`` (``hub test`` points ``ACCOUNTING_EXPORT_DIR`` at it), the file
  sink's rows are resources too: ``rows`` (JSON Lines files) and ``csv_rows`` (CSV
  files), each row with ``_file``, its path under the folder. Seeding them writes lines
  (``_file`` default ``accounting/seed.jsonl`` / ``.csv``); a reset empties the folder.
- ``/_sandbox/`` control routes as every sandbox has them (state, seed, faults, calls,
  reset); calls go through the sandbox gate (faults, call log), unmetered.

The sink is the hub's own design, with no upstream reference beyond this docstring; its
strict mode (``strict``, ``ACCOUNTING_SANDBOX_STRICT``) checks the one header the
docstring implies and the lenient mode lets go: a body declared ``application/json``.

Run it with ``hub sandbox accounting``; ``ACCOUNTING_SANDBOX_*`` variables configure it.
"""

from __future__ import annotations

import atexit
import csv
import hmac
import io
import json
import random
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.sandbox import (
    Clock,
    Gate,
    MemoryStore,
    SandboxConfig,
    build_core,
    config_from_env,
    control_mount,
    json_error,
    sandbox_app,
)

__all__ = [
    "RESOURCES",
    "AccountingSandboxConfig",
    "FolderStore",
    "create_app",
    "create_app_from_env",
    "test_export_dir",
]

ENV_PREFIX = "ACCOUNTING_SANDBOX_"
RESOURCES = ("entries", "rows", "csv_rows")
_FILE_ROWS = {"rows": "jsonl", "csv_rows": "csv"}
_NAMESPACE = "accounting"
#: what the store adds to a posted body
_STAMPS = frozenset({"_id", "_path", "_key", "createdAt", "updatedAt"})


class AccountingSandboxConfig(SandboxConfig):
    """What the accounting sandbox can be told; env names are ``ACCOUNTING_SANDBOX_<FIELD>``."""

    token: str | None = None
    #: the export folder whose files ``rows`` and ``csv_rows`` show (and reset empties)
    export_dir: Path | None = None


@cache
def test_export_dir() -> Path:
    """A folder for ``hub test`` runs of this process, removed when it exits."""
    path = Path(tempfile.mkdtemp(prefix="hub-test-accounting-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def _file_rows(folder: Path, ext: str) -> Iterator[dict[str, Any]]:
    for path in sorted(folder.rglob(f"*.{ext}")):
        relative = path.relative_to(folder)
        if any(part.startswith(".") for part in relative.parts):
            continue
        text = path.read_text(encoding="utf-8")
        if ext == "jsonl":
            rows = [json.loads(line) for line in text.splitlines() if line.strip()]
        else:
            rows = list(csv.DictReader(io.StringIO(text)))
        for row in rows:
            yield {"_file": relative.as_posix(), **row}


class FolderStore(MemoryStore):
    """A store whose ``rows``/``csv_rows`` live in the export folder's files."""

    def __init__(self, clock: Clock, rng: random.Random, folder: Path | None) -> None:
        super().__init__(clock, rng)
        self.folder = folder

    def _rows(self, resource: str) -> list[dict[str, Any]]:
        if self.folder is None or not self.folder.exists():
            return []
        return list(_file_rows(self.folder, _FILE_ROWS[resource]))

    def insert(
        self, namespace: str, resource: str, data: Mapping[str, Any], *, keep_id: bool = False
    ) -> dict[str, Any]:
        if resource not in _FILE_ROWS:
            return super().insert(namespace, resource, data, keep_id=keep_id)
        if self.folder is None:
            raise ValueError("this sandbox has no export_dir for rows")
        ext = _FILE_ROWS[resource]
        row = {k: v for k, v in data.items() if k != "_file"}
        relative = str(data.get("_file") or f"accounting/seed.{ext}")
        path = self.folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8", newline="") as handle:
            if ext == "jsonl":
                handle.write(json.dumps(row, separators=(",", ":")) + "\n")
            else:
                writer = csv.writer(handle, lineterminator="\n")
                if handle.tell() == 0:
                    writer.writerow(list(row))
                writer.writerow(["" if v is None else v for v in row.values()])
        return {"_file": relative, **row}

    def find(
        self,
        namespace: str,
        resource: str,
        predicate: Callable[[dict[str, Any]], bool] | None = None,
        **kwargs: Any,
    ) -> list[dict[str, Any]]:
        if resource in _FILE_ROWS:
            return [r for r in self._rows(resource) if predicate is None or predicate(r)]
        return super().find(namespace, resource, predicate, **kwargs)

    def dump(self, namespace: str) -> dict[str, list[dict[str, Any]]]:
        dumped = super().dump(namespace)
        for resource in _FILE_ROWS:
            rows = self._rows(resource)
            if rows:
                dumped[resource] = rows
        return dumped

    def clear(self) -> None:
        super().clear()
        if self.folder is not None and self.folder.exists():
            for child in self.folder.iterdir():
                if child.is_dir():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    child.unlink(missing_ok=True)


def create_app(
    config: AccountingSandboxConfig | None = None, *, clock: Clock | None = None
) -> Starlette:
    """A fresh accounting sandbox; its core is at ``app.state.sandbox``."""
    cfg = config or AccountingSandboxConfig()
    core = build_core(cfg, resources=RESOURCES, default_namespace=_NAMESPACE, clock=clock)
    core.store = FolderStore(core.clock, core.rng, cfg.export_dir)
    core.seed_records(core.initial_data)

    async def identify(request: Request) -> str | None:
        return None  # the endpoint has no quota to meter

    async def post(request: Request, client_id: str | None) -> Response:
        if request.method != "POST":
            return json_error(405, f"Method {request.method} is not allowed here.")
        if cfg.token is not None:
            given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
            if not hmac.compare_digest(given.encode(), cfg.token.encode()):
                return json_error(401, "a valid bearer token is required")
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if cfg.strict and kind != "application/json":
            return json_error(415, f"the body must be application/json, not '{kind}'")
        key = request.headers.get("idempotency-key", "")
        try:
            body = json.loads(await request.body())
        except (json.JSONDecodeError, UnicodeDecodeError):
            return json_error(400, "the body is not JSON")
        if not key:
            return json_error(400, "an Idempotency-Key header is required")
        if not isinstance(body, dict):
            return json_error(400, "the body must be a JSON object")
        path = request.path_params["path"]
        seen = core.store.find(_NAMESPACE, "entries", lambda r: r.get("_key") == key)
        if seen:
            first = seen[0]
            if {k: v for k, v in first.items() if k not in _STAMPS} != body:
                return json_error(422, f"Idempotency-Key {key} was used with another body")
            answer = {"id": first["_id"], "key": key, "entry": body}
            return JSONResponse(answer, headers={"Idempotent-Replayed": "true"})
        stored = core.store.insert(_NAMESPACE, "entries", {"_path": path, "_key": key, **body})
        return JSONResponse({"id": stored["_id"], "key": key, "entry": body}, status_code=201)

    gate = Gate(core, identify)
    return sandbox_app(
        core,
        cfg,
        [
            control_mount(core),
            Route("/{path:path}", gate.endpoint(post), methods=["POST", "GET", "PUT", "DELETE"]),
        ],
    )


def create_app_from_env() -> Starlette:
    """A sandbox configured from ``ACCOUNTING_SANDBOX_*`` variables (a uvicorn factory)."""
    return create_app(config_from_env(AccountingSandboxConfig, ENV_PREFIX))
