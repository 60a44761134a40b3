"""Event types and ids as the hub keeps them: short, printable strings.

They go into Redis keys, log lines, run records and Flower, so each is at most
:data:`MAX_LABEL_LENGTH` characters and holds no control character (C0, DEL, C1) and no
lone surrogate (JSON's ``"\\ud800"``, which no UTF-8 text can carry).
"""

from __future__ import annotations

import re

__all__ = ["MAX_LABEL_LENGTH", "label_problem"]

#: the longest event type or id accepted
MAX_LABEL_LENGTH = 256
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def label_problem(value: str) -> str | None:
    """What is wrong with ``value`` as an event type or id, or None when it is fine."""
    if len(value) > MAX_LABEL_LENGTH:
        return f"is longer than {MAX_LABEL_LENGTH} characters"
    found = _UNPRINTABLE.search(value)
    if found is not None:
        return f"holds the control character U+{ord(found.group()):04X}"
    return None
