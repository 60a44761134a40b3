"""The code stays as clean as the project's standards say: ruff, strict mypy on the
code, the benches and the tests, and no long functions in the code."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: the most lines a function or method under hub/ or connectors/ may span, from its
#: ``def`` line to its last line (decorators not counted; its docstring and the inner
#: functions it defines are)
MAX_FUNCTION_LINES = 60

#: functions allowed to be longer, as "path:name": only where splitting would not read
#: better, each with the reason in a comment
LONG_FUNCTIONS_ALLOWED: frozenset[str] = frozenset()


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600
    )


def test_ruff_lint_and_format_find_nothing() -> None:
    lint = _run("ruff", "check", "--no-cache", ".")
    assert lint.returncode == 0, lint.stdout + lint.stderr
    fmt = _run("ruff", "format", "--check", "--no-cache", ".")
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


@pytest.mark.parametrize("paths", [("hub", "connectors", "bench"), ("tests",)])
def test_mypy_strict_finds_nothing(paths: tuple[str, ...]) -> None:
    # two runs: the tests import the benches as `bench.*`, the first run reads them as files
    result = _run("mypy", *paths)
    assert result.returncode == 0, result.stdout + result.stderr


def _functions(path: Path) -> Iterator[tuple[str, int]]:
    """Each function and method in ``path`` (nested ones too): its name and lines."""
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            assert node.end_lineno is not None
            yield node.name, node.end_lineno - node.lineno + 1


def _long_functions(root: Path, *folders: str) -> dict[str, int]:
    """``"path:name" -> lines`` for each function over the limit and not allowed, in the
    Python files under ``folders`` of ``root``."""
    found: dict[str, int] = {}
    for folder in folders:
        for path in sorted((root / folder).rglob("*.py")):
            for name, lines in _functions(path):
                where = f"{path.relative_to(root).as_posix()}:{name}"
                if lines > MAX_FUNCTION_LINES and where not in LONG_FUNCTIONS_ALLOWED:
                    found[where] = lines
    return found


def test_no_function_in_the_code_is_over_the_limit() -> None:
    assert _long_functions(ROOT, "hub", "connectors") == {}


def test_the_length_check_finds_long_functions_and_methods(tmp_path: Path) -> None:
    statements = [f"x{n} = {n}" for n in range(MAX_FUNCTION_LINES - 1)]
    (tmp_path / "pkg" / "inner").mkdir(parents=True)
    (tmp_path / "pkg" / "inner" / "mod.py").write_text(
        "def short():\n    return 1\n\n\n"
        "async def at_the_limit():\n" + "".join(f"    {s}\n" for s in statements) + "\n\n"
        "class C:\n    def over(self):\n"
        + "".join(f"        {s}\n" for s in statements)
        + "        return x0\n"
    )
    assert _long_functions(tmp_path, "pkg") == {"pkg/inner/mod.py:over": MAX_FUNCTION_LINES + 1}


def _module_names(tests: Path) -> Iterator[tuple[str, Path]]:
    """The name pytest imports each test file under: its package path where its folder
    is a package, else its bare file name (rootdir-relative imports)."""
    for path in sorted(tests.rglob("test_*.py")):
        parts = [path.stem]
        folder = path.parent
        while (folder / "__init__.py").exists():
            parts.insert(0, folder.name)
            folder = folder.parent
        yield ".".join(parts), path


def test_no_two_test_files_import_under_one_name() -> None:
    seen: dict[str, Path] = {}
    clashes = []
    for name, path in _module_names(ROOT / "tests"):
        if name in seen:
            clashes.append(f"{seen[name].relative_to(ROOT)} and {path.relative_to(ROOT)}")
        seen.setdefault(name, path)
    assert not clashes, "rename one of each (pytest stops at collection): " + "; ".join(clashes)
