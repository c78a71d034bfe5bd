from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sdk.python.cloud import Cloud, start_cloud


@pytest.fixture
def cloud(
    tmp_path: Path, live_database: str, live_redis: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Cloud]:
    yield from start_cloud(tmp_path, live_database, live_redis, ("alice", "bob", "carol"), monkeypatch)
