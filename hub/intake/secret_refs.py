"""Secrets as source files name them: ``"{{ secrets.NAME }}"``, never the value.

The value is in ``HUB_SECRETS``; :mod:`hub.intake.resolve` looks it up by name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["SECRET_REF", "check_ref", "ref_names"]

SECRET_REF = re.compile(r"^\{\{\s*secrets\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$")


def check_ref(ref: str) -> str:
    """``ref`` when it names a secret, else :class:`ValueError` (never echoing it)."""
    if not SECRET_REF.match(ref):
        raise ValueError(
            "write a secret as '{{ secrets.NAME }}' and put its value in HUB_SECRETS, "
            "never the secret itself"
        )
    return ref


def ref_names(refs: Iterable[str]) -> list[str]:
    """The secret names in ``refs`` (those that are references)."""
    return [m.group(1) for ref in refs if (m := SECRET_REF.match(ref))]
