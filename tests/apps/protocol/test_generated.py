"""The committed generated code matches protocol/imcloud.proto: CI fails when `make proto` was not run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_generated_protocol_code_is_fresh(tmp_path: Path):
    subprocess.run(
        [
            sys.executable, "-m", "grpc_tools.protoc", "-I", "protocol",
            f"--python_out={tmp_path}", f"--pyi_out={tmp_path}", "protocol/imcloud.proto",
        ],
        cwd=ROOT, check=True,
    )  # fmt: skip
    for name in ("imcloud_pb2.py", "imcloud_pb2.pyi"):
        fresh = (tmp_path / name).read_text()
        committed = (ROOT / "apps" / "protocol" / name).read_text()
        assert committed == fresh, f"apps/protocol/{name} is stale: run `make proto`"
