"""Operators read workflow tasks in Flower: a real browser opens its tasks page, and
without the login every page, the API and ``/metrics`` answer 401."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.core.redis_server import RedisServer
from tests.support.processes import ROOT, HubProcesses, wait_for
from tests.support.signing import crm_delivery

pytestmark = pytest.mark.e2e

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOT = ROOT / ".hub" / "screenshots" / "flower-tasks.png"
LOGIN = ("ops", "flower-test-password")
BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: how Chromium ends a navigation answered 401: a login it cannot give, or an error page
REFUSED = "ERR_INVALID_AUTH_CREDENTIALS|ERR_HTTP_RESPONSE_CODE_FAILURE"
#: what Flower serves that shows tasks, workers or figures: all behind the login
GUARDED = ["/metrics", "/api/tasks", "/tasks", "/api/workers", "/workers", "/broker", "/"]


@pytest.fixture
def hub(redis_server: RedisServer, redis_client: object, tmp_path: Path) -> Iterator[HubProcesses]:
    procs = HubProcesses(
        redis_url=redis_server.url,
        log_dir=tmp_path,
        extra_env={"HUB_FLOWER_BASIC_AUTH": ":".join(LOGIN)},
    )
    try:
        procs.start_sandbox()
        procs.start_flower()
        procs.start_ingress()
        procs.start_worker(concurrency=1)
        yield procs
    finally:
        procs.stop()


@pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (deploy/dev test installs it as root)"
)
def test_flower_shows_workflow_tasks_by_name(hub: HubProcesses) -> None:
    from playwright.sync_api import sync_playwright

    assert httpx.get(f"{hub.flower_url}/tasks").status_code == 401, "Flower must ask for a login"
    event = {
        "id": "flower-1",
        "type": "contact.created",
        "data": {"first_name": "Grace", "last_name": "Hopper", "email": "grace@example.com"},
    }
    assert (
        httpx.post(f"{hub.ingress_url}/hooks/crm", **crm_delivery(event, "flower-1")).status_code
        == 202
    )

    def task_seen() -> bool:
        tasks = httpx.get(f"{hub.flower_url}/api/tasks", auth=LOGIN).json()
        return any(
            t.get("name") == "crm-contact-to-plutio-person.person" and t.get("state") == "SUCCESS"
            for t in tasks.values()
        )

    wait_for(task_seen, 30, "Flower to see the step task succeed")
    tasks = httpx.get(f"{hub.flower_url}/api/tasks", auth=LOGIN).json()
    shown = next(t for t in tasks.values() if t["name"] == "crm-contact-to-plutio-person.person")
    # event id, run id and revision at a glance, without the event's data
    assert "flower-1" in shown["kwargs"] and "revision" in shown["kwargs"]
    assert "Grace" not in shown["kwargs"] and "Grace" not in shown["args"]
    assert "sandbox-secret" not in str(tasks)

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        try:
            page = browser.new_page(
                http_credentials={"username": LOGIN[0], "password": LOGIN[1]},
                viewport={"width": 1600, "height": 700},
            )
            page.goto(f"{hub.flower_url}/tasks")
            cell = page.get_by_text("crm-contact-to-plutio-person.person").first
            cell.wait_for(timeout=15_000)
            assert cell.is_visible()
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOT), full_page=True)
        finally:
            browser.close()
    assert SCREENSHOT.stat().st_size > 10_000


def _refused(page: Any, url: str) -> bool:
    """True when the browser, opening ``url``, gets a 401 or gives up on the login."""
    from playwright.sync_api import Error as PlaywrightError

    try:
        answer = page.goto(url)
    except PlaywrightError as exc:
        return re.search(REFUSED, str(exc)) is not None
    return answer is not None and answer.status == 401


@pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (deploy/dev test installs it as root)"
)
def test_without_the_login_flower_shows_nothing_not_even_metrics(hub: HubProcesses) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        try:
            stranger = browser.new_page()
            probe = stranger.goto(f"{hub.flower_url}/healthcheck")  # open, and says only OK
            assert probe is not None and probe.status == 200 and probe.text() == "OK"
            for path in GUARDED:
                # the browser is refused (pages challenge for the login, the API does
                # not) and, with no login to give, shows nothing
                assert _refused(stranger, f"{hub.flower_url}{path}"), path
                # what it was answered (the browser's context asking without a login)
                answer = stranger.request.get(f"{hub.flower_url}{path}")
                assert answer.status == 401, path
                if not path.startswith("/api/"):
                    assert answer.headers["www-authenticate"].startswith("Basic"), path
                text = answer.text()
                assert "flower_" not in text and "crm-contact" not in text, path
            wrong = browser.new_page(http_credentials={"username": "ops", "password": "guess"})
            assert _refused(wrong, f"{hub.flower_url}/metrics")
            assert _refused(wrong, f"{hub.flower_url}/tasks")
            operator = browser.new_page(
                http_credentials={"username": LOGIN[0], "password": LOGIN[1]}
            )
            metrics = operator.goto(f"{hub.flower_url}/metrics")
            assert metrics is not None and metrics.status == 200
            assert "flower_worker_online" in metrics.text()
        finally:
            browser.close()
    # the same without a browser: no credentials, wrong ones, and the right ones
    assert httpx.get(f"{hub.flower_url}/metrics").status_code == 401
    assert httpx.get(f"{hub.flower_url}/api/tasks", auth=("ops", "nope")).status_code == 401
    assert httpx.get(f"{hub.flower_url}/metrics", auth=LOGIN).status_code == 200
