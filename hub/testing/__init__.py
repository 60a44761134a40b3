"""``hub test``: workflows run offline against connector sandboxes, with assertions.

- :mod:`~hub.testing.spec`: the test file format (``<workflow>.test.yaml``);
  :mod:`~hub.testing.checks` loads and checks it with positions, like workflows.
- :mod:`~hub.testing.broker`: an in-memory queue and worker that run ``hub.step`` tasks
  through :class:`hub.worker.flow.Flow` and :class:`hub.worker.dispatch.StepDispatch` on a
  fake clock (retries and waits take no time).
- :mod:`~hub.testing.deliveries`: a case's events as production deliveries (signed as
  the real source files say) through the intake, with dedupe as the ingress's store.
- :mod:`~hub.testing.sandboxes`: the sandboxes connectors declare, served on need.
- :mod:`~hub.testing.expect`: partial matching and the checks of ``expect``.
- :mod:`~hub.testing.runner`: runs one file's cases; :mod:`~hub.testing.suite` finds the
  files, runs them and prints the report.

Beside ``hub test``, :mod:`~hub.testing.conformance` is the connector conformance suite:
checks every connector with an upstream runs against its sandbox (auth, paging, retriable
and fatal answers, record round trips).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hub.core import lazy_exports

if TYPE_CHECKING:
    from hub.testing.conformance import Conformance, Paging, Probe, RoundTrip
    from hub.testing.expect import mismatch
    from hub.testing.suite import run_tests, session_redis

__all__ = ["Conformance", "Paging", "Probe", "RoundTrip", "mismatch", "run_tests", "session_redis"]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "conformance": (
            "Conformance",
            "Paging",
            "Probe",
            "RoundTrip",
        ),
        "expect": ("mismatch",),
        "suite": (
            "run_tests",
            "session_redis",
        ),
    },
)
