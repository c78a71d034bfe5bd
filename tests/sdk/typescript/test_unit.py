"""The TypeScript SDK's own unit tests (node:test, no server) as part of the suite."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.live.stack import ROOT
from tests.sdk.typescript.node import TS_ROOT, build_tests, run_node_tests

ESBUILD = TS_ROOT / "node_modules" / ".bin" / "esbuild"


def test_typescript_unit_tests_pass() -> None:
    build_tests()
    run = run_node_tests(["build/test/unit/"], {}, timeout=180)
    assert run.returncode == 0, run.output
    assert run.count("fail") == 0, run.output
    assert run.count("pass") >= 39, run.output


def test_the_committed_browser_bundle_is_built_from_the_current_sources(tmp_path: Path) -> None:
    assert ESBUILD.exists(), f"{ESBUILD} is missing: run `npm ci` in {TS_ROOT}"
    out = tmp_path / "imcloud-sdk.js"
    done = subprocess.run(
        ["npm", "run", "--silent", "bundle", "--", f"--outfile={out}"],
        cwd=TS_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    committed = ROOT / "static" / "sdk" / "imcloud-sdk.js"
    assert out.read_bytes() == committed.read_bytes(), "stale: run `npm run bundle` in sdk_clients/typescript"
