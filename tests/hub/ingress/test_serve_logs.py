"""`hub serve` writes its line per delivery, as README says, as a real process."""

from __future__ import annotations

from pathlib import Path

import httpx

from hub.core.redis_server import RedisServer
from tests.support.processes import HubProcesses, wait_for
from tests.support.signing import crm_delivery


def test_the_ingress_logs_a_line_per_delivery(
    redis_server: RedisServer, redis_client: object, tmp_path: Path
) -> None:
    hub = HubProcesses(redis_url=redis_server.url, log_dir=tmp_path)
    try:
        hub.start_ingress()
        body = {"type": "contact.created", "data": {"email": "ada@example.com"}}
        accepted = httpx.post(f"{hub.ingress_url}/hooks/crm", **crm_delivery(body, "log-1"))
        assert accepted.status_code == 202, accepted.text
        refused = httpx.post(f"{hub.ingress_url}/hooks/nope", json=body)
        assert refused.status_code == 404
        unsigned = httpx.post(f"{hub.ingress_url}/hooks/crm", json=body)
        assert unsigned.status_code == 401
        log = tmp_path / "ingress.log"

        def both_logged() -> bool:
            text = log.read_text()
            return "event crm/log-1 accepted" in text and "refused with 404" in text

        wait_for(both_logged, 30, "the ingress's delivery lines")
        text = log.read_text()
        assert "ada@example.com" not in text
        # failed authentication is summed up once per window, not a line each
        assert "refused with 401" not in text
    finally:
        hub.stop()
