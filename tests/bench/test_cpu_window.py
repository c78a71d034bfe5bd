"""The bench's CPU accounting: a group listed by a function counts processes that started within
the window (a PostgreSQL backend reopened mid-step), a fixed list only the ones it named."""

from __future__ import annotations

import subprocess
import sys
import time

from bench.stack import CLK_TCK, CpuWindow, cpu_ticks

# Burns 0.4 s of CPU, then waits for a line on stdin (so it is still there to be read).
BUSY = "import time\nend = time.process_time() + 0.4\nwhile time.process_time() < end: pass\ninput()"


def _wait_for_cpu(pid: int, seconds: float) -> None:
    deadline = time.monotonic() + 10
    while cpu_ticks(pid) < seconds * CLK_TCK and time.monotonic() < deadline:
        time.sleep(0.05)


def test_a_process_started_within_the_window_counts_in_a_listed_group() -> None:
    started: list[int] = []
    window = CpuWindow({"listed_pct": lambda: started, "fixed_pct": list(started)})
    window.start()
    child = subprocess.Popen([sys.executable, "-c", BUSY], stdin=subprocess.PIPE)
    started.append(child.pid)
    try:
        _wait_for_cpu(child.pid, 0.35)
        reading = window.read()
    finally:
        child.communicate(b"\n", timeout=10)
    assert reading["listed_pct"] > 0
    assert reading["fixed_pct"] == 0
