"""Fast unique ids for the ingress's hot path (task ids, run ids, receipts).

``uuid.uuid4()`` reads the OS random source for every id (a system call, several
microseconds); these ids need uniqueness, not secrecy, so they come from the ``random``
module's generator (seeded from the OS, and re-seeded in forked children by Python).
"""

from __future__ import annotations

import random

__all__ = ["new_hex", "new_uuid"]

_VERSION_4 = (0x4000 << 64) | (0x8000 << 48)
_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))


def new_hex() -> str:
    """32 random hex digits."""
    return f"{random.getrandbits(128):032x}"


def new_uuid() -> str:
    """A random version-4 UUID string, as Celery uses for task ids."""
    h = f"{(random.getrandbits(128) & _CLEAR) | _VERSION_4:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
