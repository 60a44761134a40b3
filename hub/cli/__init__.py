"""The ``hub`` command line: one module per command or group, assembled in
:mod:`hub.cli.app`; :mod:`hub.cli.up` is ``hub up``, the all-in-one local run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hub.core import lazy_exports

if TYPE_CHECKING:
    from hub.cli.app import main

__all__ = ["main"]

__getattr__, __dir__ = lazy_exports(__name__, {"app": ("main",)})
