"""Package surfaces that import their modules on first use.

Each package's ``__init__`` names its public names in ``__all__`` and maps them to the
module that defines them; :func:`lazy_exports` gives the module-level ``__getattr__`` and
``__dir__`` that import that module when a name is first read. Importing a package stays
as cheap as before (a command that needs only the settings does not load Celery), and
packages that use each other do not have to be imported in a fixed order.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, modules: Mapping[str, Sequence[str]]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``, whose public names are defined in
    its submodules: ``{"runs": ("RunStore", ...), ...}``."""
    where = {name: f"{package}.{module}" for module, names in modules.items() for name in names}

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(module), name)

    def __dir__() -> list[str]:
        return sorted(where)

    return __getattr__, __dir__
