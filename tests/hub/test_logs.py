from __future__ import annotations

import json
import logging

from hub.logs import JsonFormatter


def test_json_lines_keep_extra_fields() -> None:
    record = logging.makeLogRecord(
        {
            "name": "hub.worker",
            "levelname": "INFO",
            "levelno": 20,
            "msg": "step %s done",
            "args": ("person",),
            "event_id": "e1",
            "run_id": "r1",
        }
    )
    line = json.loads(JsonFormatter().format(record))
    assert line["msg"] == "step person done"
    assert line["event_id"] == "e1" and line["run_id"] == "r1"
    assert line["level"] == "info" and line["logger"] == "hub.worker"
