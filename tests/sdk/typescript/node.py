"""Driving the TypeScript SDK's node test files from pytest against a live stack."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from dataclasses import dataclass

from tests.live.stack import ROOT, Gateways, manage

TS_ROOT = ROOT / "sdk_clients" / "typescript"
TSC = TS_ROOT / "node_modules" / ".bin" / "tsc"


def build_tests() -> None:
    """Compile src/ and test/ into build/ (the node tests run on the compiled output)."""
    assert TSC.exists(), f"{TSC} is missing: run `npm ci` in {TS_ROOT} (make sdk-ts does)"
    done = subprocess.run(
        [str(TSC), "-p", "tsconfig.test.json"], cwd=TS_ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr


@dataclass
class NodeRun:
    returncode: int
    output: str

    def count(self, what: str) -> int:
        found = re.search(rf"^# {what} (\d+)$", self.output, re.MULTILINE)
        assert found, self.output
        return int(found.group(1))


def run_node_tests(files: list[str], env: dict[str, str], timeout: float = 300) -> NodeRun:
    # Its own process group: on a timeout the test files' processes go too, not only the runner.
    process = subprocess.Popen(
        ["node", "--test", "--test-reporter=tap", "--test-concurrency=1", *files],
        cwd=TS_ROOT,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        raise AssertionError(f"node --test did not finish within {timeout} s:\n{output}") from None
    return NodeRun(process.returncode, output)


def users_env(gateways: Gateways, keys: dict[str, str], tokens: dict[str, str]) -> dict[str, str]:
    return {
        "IMCLOUD_WS": json.dumps([gateways.ws(i) for i in range(len(gateways.bases))]),
        "IMCLOUD_HTTP": json.dumps(gateways.bases),
        "IMCLOUD_APP_KEY": keys["app_key"],
        "IMCLOUD_APP_SECRET": keys["app_secret"],
        "IMCLOUD_TOKENS": json.dumps(tokens),
        "IMCLOUD_GATEWAY_PIDS": json.dumps([p.pid for p in gateways.processes]),
    }


def create_app(env: dict[str, str]) -> dict[str, str]:
    out = manage(env, "create_app", "--owner-email", "dev@example.com", "--name", "TS")
    keys: dict[str, str] = json.loads(out)
    return keys
