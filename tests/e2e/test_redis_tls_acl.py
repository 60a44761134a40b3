"""The hub on a Redis like production: TLS only (a CA made for the test) and an ACL user
limited to the hub's keys and channels, as deploy/redis-users.acl gives it. The spine runs
end to end: the ingress's store, the broker transport, quota and token cache, locks, run
history, beat, Flower and the CLI, and Redis logs no command or key the user was denied."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.processes import ROOT, HubProcesses, wait_for
from tests.support.redis_tls import TlsRedis, make_certificates, tls_server_binary
from tests.support.signing import crm_delivery
from tests.workflows.invoice_export import fast_workflows, invoice

pytestmark = pytest.mark.e2e

BINARY = tls_server_binary() if shutil.which("openssl") else None
LOGIN = ("ops", "flower-tls-password")


@pytest.fixture(scope="module")
def tls_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsRedis]:
    if BINARY is None:
        pytest.skip("no Redis server built with TLS (Debian's redis-server is), or no openssl")
    folder = tmp_path_factory.mktemp("tls")
    server = TlsRedis(BINARY, folder / "redis", make_certificates(folder / "certs")).start()
    yield server
    server.stop()


@pytest.fixture
def hub(tls_redis: TlsRedis, tmp_path: Path) -> Iterator[HubProcesses]:
    tls_redis.admin().flushall()
    tls_redis.admin().acl_log_reset()
    folder = fast_workflows(tmp_path / "workflows")  # the invoice exports, polling every 1s
    shutil.copy(ROOT / "workflows" / "crm-contact-to-plutio-person.yaml", folder)
    shutil.copytree(ROOT / "workflows" / "sources", folder / "sources")
    procs = HubProcesses(
        redis_url=tls_redis.url(),
        log_dir=tmp_path,
        workflows=folder,
        extra_env={
            "HUB_REDIS_CA_FILE": str(tls_redis.certificates.ca),
            "HUB_FLOWER_BASIC_AUTH": ":".join(LOGIN),
            "HUB_DATA_DIR": str(tmp_path / "data"),
            "ACCOUNTING_EXPORT_DIR": str(tmp_path / "exports"),
            # Redis 7.0 has no WAITAOF, and the hub's user may not CONFIG GET
            "HUB_INGRESS_FSYNC": "everysec",
        },
    )
    try:
        procs.start_sandbox()
        procs.start_ingress()
        procs.start_worker(concurrency=2)
        procs.start_beat()
        procs.start_flower()
        yield procs
    finally:
        procs.stop()


def _hub_cli(hub: HubProcesses, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub", *args],
        cwd=ROOT,
        env={**os.environ, **hub.env()},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_spine_runs_over_tls_as_a_limited_acl_user(
    tls_redis: TlsRedis, hub: HubProcesses
) -> None:
    event = {
        "id": "tls-1",
        "type": "contact.created",
        "data": {"first_name": "Radia", "last_name": "Perlman", "email": "radia@example.com"},
    }
    answer = httpx.post(f"{hub.ingress_url}/hooks/crm", **crm_delivery(event, "tls-1"))
    assert answer.status_code == 202, answer.text
    run_id = answer.json()["runs"][0]["run_id"]

    def person_made() -> bool:
        people = httpx.get(f"{hub.sandbox_url}/_sandbox/state/people").json()
        return any(p["contactEmails"][0]["address"] == "radia@example.com" for p in people)

    try:
        wait_for(person_made, 60, "the run to make the person upstream")
    except TimeoutError:
        print(hub.logs())
        raise
    # run history, read back by the CLI over TLS
    runs = _hub_cli(hub, "runs", "--json")
    assert runs.returncode == 0, runs.stderr
    assert run_id in runs.stdout

    # Flower sees tasks through the broker's events; it sees only those that run after
    # it subscribed (slower over TLS), so another event goes in until one shows
    sent = iter(range(2, 1000))

    def flower_saw() -> bool:
        tasks = httpx.get(f"{hub.flower_url}/api/tasks", auth=LOGIN).json()
        if any(t.get("state") == "SUCCESS" for t in tasks.values()):
            return True
        n = next(sent)
        more = {**event, "id": f"tls-{n}", "data": {"email": f"r{n}@x.io"}}
        httpx.post(f"{hub.ingress_url}/hooks/crm", **crm_delivery(more, f"tls-{n}"))
        return False

    wait_for(flower_saw, 60, "Flower to see a task", interval=2)
    # the views and metrics through the ingress's own Redis clients
    recent = httpx.get(f"{hub.ingress_url}/events", headers=hub.admin_headers)
    assert "tls-1" in [e["event_id"] for e in recent.json()["events"]]
    metrics = httpx.get(f"{hub.ingress_url}/metrics", headers=hub.admin_headers).text
    assert 'hub_events_total{outcome="accepted",source="crm"}' in metrics
    # beat fires the poll, under its lock; the invoice it finds moves the poll's cursor
    admin = tls_redis.admin()
    seeded = httpx.post(f"{hub.sandbox_url}/_sandbox/seed", json={"invoices": [invoice(1)]})
    seeded.raise_for_status()
    cursor = "hub:cursor:plutio-invoice-poll-to-accounting-export"
    wait_for(lambda: bool(admin.exists(cursor)), 60, "beat's poll to move its cursor")
    # the hub's user kept to its keys, channels and commands: Redis denied it nothing
    assert admin.acl_log() == [], admin.acl_log()
    names = {k.decode(errors="replace") for k in admin.keys("*") if isinstance(k, bytes)}
    assert names == _allowed(names)


def _allowed(names: set[str]) -> set[str]:
    """The key names the ACL's patterns allow (the hub could have written no other)."""
    prefixes = ("hub", "_kombu.", "unacked", "celeryev.")
    return {n for n in names if n.startswith(prefixes) or ".celery.pidbox" in n}


def test_without_the_ca_file_the_hub_refuses_the_server(
    tls_redis: TlsRedis, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUB_", "PLUTIO_"))}
    env["HUB_REDIS_URL"] = tls_redis.url()
    result = subprocess.run(
        [sys.executable, "-m", "hub", "runs", "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "certificate verify failed" in result.stderr
    assert "hub-acl-password" not in result.stderr


def test_the_hub_user_cannot_reach_other_keys_or_dangerous_commands(tls_redis: TlsRedis) -> None:
    import redis

    user = redis.Redis.from_url(tls_redis.url(), ssl_ca_certs=str(tls_redis.certificates.ca))
    user.set("hub:probe", "1")
    for denied in (
        lambda: user.set("other-app:key", "1"),
        lambda: user.get("session:42"),
        user.flushall,
        lambda: user.config_get("requirepass"),
        lambda: user.keys("*"),
    ):
        with pytest.raises(redis.exceptions.NoPermissionError):
            denied()
    assert user.get("hub:probe") == b"1"
