"""Every connector test runs twice: against each sandbox as its connector sees it
(``lenient``), and against the same sandbox in strict mode (``strict``), which answers
only what the upstream's reference documents and treats the rest as the reference
implies. A test module whose tests involve no sandbox, or only one mode, overrides
``sandbox_mode``; module-scoped fixtures that serve a sandbox take ``sandbox_mode``, so
each mode gets its own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hub.sandbox import strict_sandboxes


@pytest.fixture(scope="module", params=["lenient", "strict"], autouse=True)
def sandbox_mode(request: pytest.FixtureRequest) -> Iterator[str]:
    """The mode sandbox configs built in this module's tests default to."""
    with strict_sandboxes(request.param == "strict"):
        yield str(request.param)
