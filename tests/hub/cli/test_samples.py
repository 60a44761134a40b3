"""`hub up --demo`: samples sent, then what they expect shown as their connector describes it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from connectors.plutio.sandbox import PlutioSandboxConfig, create_app
from hub.cli.samples import expected, send_samples
from hub.core.settings import Settings
from hub.sandbox.serve import serve_in_thread

ROOT = Path(__file__).resolve().parents[3]
ADA = {"name": {"first": "Ada", "last": "Lovelace"}, "contactEmails": [{"address": "a@x.org"}]}


def _ingress(received: list[dict[str, Any]]) -> Starlette:
    async def hook(request: Request) -> JSONResponse:
        received.append(
            {"source": request.path_params["source"], **json.loads(await request.body())}
        )
        return JSONResponse({"accepted": True}, status_code=202)

    return Starlette(routes=[Route("/hooks/{source}", hook, methods=["POST"])])


def test_expected_records_are_merged_by_connector_and_resource() -> None:
    samples: list[dict[str, Any]] = [
        {"expect": {"crm": {"people": [{"email": "a"}]}}},
        {"expect": {"crm": {"people": [{"email": "b"}], "notes": [{}]}}},
        {"body": {}},
    ]
    assert expected(samples) == {"crm": {"people": [{"email": "a"}, {"email": "b"}], "notes": [{}]}}


def test_samples_are_sent_then_the_expected_records_shown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sample = {
        "source": "crm",
        "headers": {"X-Event-Type": "contact.created", "X-Event-Id": "e-1"},
        "body": {"id": "e-1", "type": "contact.created"},
        "expect": {"plutio": {"people": [{"contactEmails": [{"address": "a@x.org"}]}]}},
    }
    (tmp_path / "1-contact.json").write_text(json.dumps(sample))
    received: list[dict[str, Any]] = []
    sandbox = create_app(PlutioSandboxConfig(initial_data={"people": [ADA]}))
    settings = Settings(hub_workflows=ROOT / "workflows")
    with serve_in_thread(_ingress(received)) as ingress, serve_in_thread(sandbox) as plutio:
        found = send_samples(tmp_path, ingress, {"plutio": plutio}, settings, wait=5, tag="t1")
    assert [(r["source"], r["id"]) for r in received] == [("crm", "e-1.t1")]
    [person] = found["plutio"]["people"]
    assert person["name"] == ADA["name"]
    shown = capsys.readouterr().out
    assert "plutio sandbox now holds 1 people:" in shown
    # the Plutio connector describes a person by id, name and addresses
    assert f"  {person['_id']}  Ada Lovelace  <a@x.org>" in shown
