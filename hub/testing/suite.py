"""``hub test`` as a whole: find the test files, run their cases, report.

Prints one line per case (``PASS``/``FAIL`` with the file and line, then what differed)
and closes with ``N passed, N failed``. Files that cannot run (invalid workflows or test
files) are reported with their located problems and make the run fail.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import redis

from hub.core import RedisServer
from hub.intake import SourceError
from hub.testing.checks import load_spec
from hub.testing.deliveries import CaseSources
from hub.testing.runner import CaseResult, WorkflowTester, upstreams
from hub.testing.spec import spec_path_for
from hub.workflow import Workflow, WorkflowError, load_folder

__all__ = ["Report", "run_tests", "session_redis"]


@dataclass
class Report:
    """Every case run, and the files that could not be run at all."""

    results: list[CaseResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> int:
        return sum(r.passed for r in self.results)

    @property
    def failed(self) -> int:
        return len(self.results) - self.passed

    @property
    def ok(self) -> bool:
        return not self.problems and self.failed == 0 and bool(self.results)


def _collect(path: Path) -> tuple[list[Path], list[Path], Path]:
    """(test files, workflow files without tests, the folder of workflows)."""
    if path.is_dir():
        folder = path
        specs = sorted(p for p in folder.iterdir() if p.name.endswith((".test.yaml", ".test.yml")))
        tested = {p.resolve() for p in specs}
        untested = [
            p
            for p in sorted(folder.iterdir())
            if p.suffix in (".yaml", ".yml")
            and not p.name.endswith((".test.yaml", ".test.yml"))
            and (spec_path_for(p) or Path()).resolve() not in tested
        ]
        return specs, untested, folder
    if path.name.endswith((".test.yaml", ".test.yml")):
        return [path], [], path.parent
    spec = spec_path_for(path)
    return ([spec] if spec else []), ([] if spec else [path]), path.parent


def run_tests(
    path: Path,
    redis_client: redis.Redis,
    *,
    echo: Callable[[str], None] = print,
    seed: int = 0,
    sources: Path | None = None,
) -> Report:
    """Run the test files at ``path`` (a folder, a test file, or a workflow file).

    Events are sent through the source files in ``sources`` (default: the ``sources``
    folder next to the workflows). Prints one line per case (``PASS``/``FAIL``, then
    why) and the closing line ``N passed, N failed``.
    """
    report = Report()
    if not path.exists():
        report.problems.append(f"{path}: no such file or folder")
    else:
        specs, untested, folder = _collect(path)
        try:
            workflows = {wf.name: wf for wf in load_folder(folder)}
        except WorkflowError as exc:
            report.problems.append(f"invalid workflows in {folder}:\n{exc}")
            workflows = {}
        case_sources = _sources(sources or folder / "sources", list(workflows.values()), report)
        tester = WorkflowTester(redis_client, seed=seed, sources=case_sources)
        try:
            if workflows and case_sources is not None:
                for file in untested:
                    echo(f"note: {file} has no tests ({file.stem}.test.yaml)")
                for spec_file in specs:
                    _run_file(tester, spec_file, workflows, report, echo)
            if not specs:
                report.problems.append(f"{path}: no test files (*.test.yaml)")
        finally:
            tester.close()
    for problem in report.problems:
        for line in problem.splitlines():
            echo(f"error: {line}")
    echo(f"{report.passed} passed, {report.failed} failed")
    return report


def _sources(folder: Path, workflows: list[Workflow], report: Report) -> CaseSources | None:
    try:
        return CaseSources.load(folder, workflows)
    except SourceError as exc:
        report.problems.append(f"invalid sources in {folder}:\n{exc}")
        return None


def _run_file(
    tester: WorkflowTester,
    spec_file: Path,
    workflows: dict[str, Workflow],
    report: Report,
    echo: Callable[[str], None],
) -> None:
    resources = tester.sandboxes.resources()
    try:
        loaded = load_spec(spec_file, workflows, resources)
    except WorkflowError as exc:
        report.problems.append(str(exc))
        return
    missing = sorted(upstreams(loaded.workflow) - set(resources))
    if missing:
        names = ", ".join(missing)
        report.problems.append(f"{spec_file}: no sandbox for {names}; its cases cannot run offline")
        return
    for result in tester.run_spec(loaded):
        report.results.append(result)
        mark = "PASS" if result.passed else "FAIL"
        echo(f"{mark}  {result.file}:{result.line}  {result.name}")
        for failure in result.failures:
            echo(f"      {failure}")


@contextmanager
def session_redis() -> Iterator[redis.Redis]:
    """A throwaway Redis server (no persistence) for one ``hub test`` session."""
    with tempfile.TemporaryDirectory(prefix="hub-test-") as folder:
        server = RedisServer(Path(folder), appendonly=False).start()
        client = redis.Redis.from_url(server.url)
        try:
            yield client
        finally:
            client.close()
            server.stop()
