"""deploy/GUIDE.md stays true: its numbers match the code, the files it names exist."""

from __future__ import annotations

import re

from hub.worker.celery_app import MAX_COUNTDOWN_SECONDS, QUEUE, VISIBILITY_TIMEOUT_SECONDS
from tests.deploy.files import DEPLOY, code_in_markdown

GUIDE = (DEPLOY / "GUIDE.md").read_text()


def test_timeouts_match_the_celery_app() -> None:
    assert f"`visibility_timeout` ({VISIBILITY_TIMEOUT_SECONDS} s)" in GUIDE
    assert f"at {MAX_COUNTDOWN_SECONDS} s" in GUIDE
    assert VISIBILITY_TIMEOUT_SECONDS >= 10 * MAX_COUNTDOWN_SECONDS, "the guide's margin"


def test_queue_names_match_the_celery_app() -> None:
    assert f"queue `{QUEUE}`" in GUIDE and f"list `{QUEUE}`" in GUIDE
    assert f"`{QUEUE}.plutio`" in GUIDE, "the recommended quota-bound queue"


def test_files_the_guide_names_exist() -> None:
    file = r"(?<![\w./-])(?:deploy/)?((?:k8s/)?[\w.-]+\.(?:ya?ml|conf|example))(?![\w.])"
    named = {m for code in code_in_markdown(GUIDE) for m in re.findall(file, code)}
    assert "k8s/keda-worker-scaler.yaml" in named
    for name in named:
        assert (DEPLOY / name).is_file(), f"GUIDE.md names deploy/{name}, which is missing"
