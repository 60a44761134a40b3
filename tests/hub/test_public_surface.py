"""Each package of the hub names its public surface in its ``__init__``'s ``__all__``, and
code outside a package imports only those names, from the package itself (as httpx pins
its exported members in ``tests/test_exported_members.py``).

The rule holds for the hub, the connectors and the benches: a connector package installed
on its own sees the same surface. Tests may import a module they test directly.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path
from types import ModuleType

import pytest

import hub

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = sorted(info.name for info in pkgutil.iter_modules(hub.__path__) if info.ispkg)
#: the code held to the rule
CHECKED = ("hub", "connectors", "bench")


def _package(name: str) -> ModuleType:
    return importlib.import_module(f"hub.{name}")


def _submodules(package: ModuleType) -> set[str]:
    return {info.name for info in pkgutil.iter_modules(package.__path__)}


def test_the_packages_are_the_stages_of_the_flow() -> None:
    assert PACKAGES == [
        "cli",
        "connector",
        "core",
        "history",
        "http",
        "ingress",
        "intake",
        "polling",
        "sandbox",
        "testing",
        "worker",
        "workflow",
    ]
    loose = sorted(p.name for p in (ROOT / "hub").glob("*.py"))
    assert loose == ["__init__.py", "__main__.py"]


@pytest.mark.parametrize("name", PACKAGES)
def test_every_public_name_is_listed_once_and_resolves(name: str) -> None:
    package = _package(name)
    public: list[str] = package.__all__
    assert len(set(public)) == len(public), f"hub.{name}.__all__ names a member twice"
    assert sorted(dir(package)) == sorted(set(public) - {"lazy_exports"})
    for member in public:
        assert getattr(package, member) is not None, f"hub.{name}.{member}"
    # a public name that is also a module's name would be replaced by the module on import
    assert not set(public) & _submodules(package), f"hub.{name}: a name is also a module"


@pytest.mark.parametrize("name", PACKAGES)
def test_an_unknown_name_is_an_attribute_error(name: str) -> None:
    with pytest.raises(AttributeError, match="no attribute 'not_a_member'"):
        _package(name).not_a_member  # noqa: B018


def _imports(path: Path) -> list[tuple[int, str, list[str]]]:
    """Every ``from hub... import`` in ``path``: line, module, names."""
    tree = ast.parse(path.read_text(), str(path))
    return [
        (node.lineno, node.module, [alias.name for alias in node.names])
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("hub.")
    ]


def _owner(path: Path) -> str | None:
    """The hub package ``path`` belongs to, if any."""
    parts = path.relative_to(ROOT).parts
    return parts[1] if parts[0] == "hub" and len(parts) > 2 else None


def _violations(path: Path, mine: str | None) -> list[str]:
    """The imports in ``path`` (a file of package ``mine``) that reach past another hub
    package's surface."""
    wrong: list[str] = []
    for line, module, names in _imports(path):
        parts = module.split(".")
        target = parts[1]
        if target == mine or target not in PACKAGES:
            continue
        where = f"{path.name}:{line}"
        if len(parts) > 2:
            wrong.append(f"{where}: from {module} import ... (import from hub.{target})")
            continue
        package = _package(target)
        hidden = [n for n in names if n not in package.__all__ and n not in _submodules(package)]
        if hidden:
            wrong.append(f"{where}: hub.{target} does not export {', '.join(hidden)}")
    return wrong


def test_code_outside_a_package_imports_only_its_public_names() -> None:
    files = [p for top in CHECKED for p in sorted((ROOT / top).rglob("*.py"))]
    assert len(files) > 150
    wrong = [
        f"{path.parent.relative_to(ROOT)}/{problem}"
        for path in files
        for problem in _violations(path, _owner(path))
    ]
    assert not wrong, "imports past a package's surface:\n" + "\n".join(wrong)


def test_the_check_finds_imports_past_the_surface(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from hub.history.runs import RunStore\n"
        "from hub.history import RunStore\n"
        "from hub.history import _private_helper\n"
    )
    assert _violations(sample, None) == [
        "sample.py:1: from hub.history.runs import ... (import from hub.history)",
        "sample.py:3: hub.history does not export _private_helper",
    ]
    assert _violations(sample, "history") == []  # a package's own modules import freely
