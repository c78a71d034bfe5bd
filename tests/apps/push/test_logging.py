"""Workers run at INFO (`make run`): the HTTP client must not log one line per notification."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

PROBE = """
import logging
import django
import httpx

django.setup()
logging.getLogger("apps.push.fanout").info("probe: INFO is on")
client = httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(200)))
client.post("https://api.push.apple.com/3/device/00", content=b"{}")
"""


def test_the_project_logging_at_info_leaves_out_httpx_request_lines() -> None:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "IMCLOUD_LOG_LEVEL": "INFO",
        "IMCLOUD_LOG_FORMAT": "plain",
    }

    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )

    assert done.returncode == 0, done.stderr
    assert "probe: INFO is on" in done.stderr
    assert "HTTP Request" not in done.stderr
