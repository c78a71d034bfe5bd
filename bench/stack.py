"""Processes under test and what the bench reads off them: start, stop, RSS, CPU.

Everything binds to 127.0.0.1. Every child is started in its own session (a terminal's Ctrl-C
reaches the bench only, which then stops them in order) and with a parent-death signal, so that
even a bench killed with SIGKILL leaves nothing running.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024
PR_SET_PDEATHSIG = 1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def spawn(command: list[str], *, env: dict[str, str], log: Path, cwd: Path = ROOT) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(  # noqa: S603 - our own interpreter and scripts, no shell
            command,
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )


def stop(procs: Iterable[subprocess.Popen[bytes]], grace: float = 8.0) -> None:
    procs = [p for p in procs if p.poll() is None]
    for proc in procs:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


def run(command: list[str], *, env: dict[str, str], timeout: float, cwd: Path = ROOT) -> str:
    done = subprocess.run(  # noqa: S603 - our own interpreter and scripts, no shell
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:3])} failed ({done.returncode}): {done.stderr[-2000:]}")
    return done.stdout


def http_status(url: str, timeout: float = 3) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - http://127.0.0.1 only
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def wait_http(url: str, procs: list[subprocess.Popen[bytes]], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        dead = [p.pid for p in procs if p.poll() is not None]
        if dead:
            raise RuntimeError(f"process {dead} exited while starting")
        with contextlib.suppress(OSError):
            if http_status(url) == 200:
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer 200 within {timeout:.0f} s")
        time.sleep(0.2)


def wait_port(port: int, procs: list[subprocess.Popen[bytes]], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if any(p.poll() is not None for p in procs):
            raise RuntimeError("a process exited while starting")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"port {port} did not open within {timeout:.0f} s")
        time.sleep(0.1)


# --- /proc ---------------------------------------------------------------------------------------


def rss_kib(pid: int) -> int:
    """Resident set size (VmRSS) of one process in KiB; 0 if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def cpu_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0
    return int(fields[11]) + int(fields[12])  # utime + stime


def machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, all cores."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def pids_named(name: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() == name:
                    found.append(int(entry.name))
    return found


def server_command(server: str, port: int, source: Path = ROOT) -> list[str]:
    """The gateway command (daphne or uvicorn, on 127.0.0.1) of ``source``'s scripts/run.py, the
    one docs/operations.md describes: what the bench and the live tests start."""
    spec = importlib.util.spec_from_file_location("imcloud_run_script", source / "scripts" / "run.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    command: list[str] = module.server_command(server, "127.0.0.1", port)
    return command


Pids = list[int] | Callable[[], list[int]]


@dataclass
class CpuWindow:
    """CPU used by named groups of processes over a window, in percent of one core.

    A group is a list of pids, or a function that lists them: that one is asked again at the end
    of the window, and a process it lists then that was not there at the start (a PostgreSQL
    backend reopened under CONN_MAX_AGE, say) counts with all its CPU, since it started within
    the window. A process that exited during the window counts for nothing either way."""

    groups: dict[str, Pids]
    started: float = 0.0
    ticks: dict[int, int] = field(default_factory=dict)
    machine: tuple[int, int] = (0, 0)

    def __enter__(self) -> CpuWindow:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def _pids(self, group: Pids) -> list[int]:
        return group() if callable(group) else group

    def start(self) -> None:
        self.started = time.monotonic()
        self.ticks = {pid: cpu_ticks(pid) for group in self.groups.values() for pid in self._pids(group)}
        self.machine = machine_ticks()

    def read(self) -> dict[str, float]:
        elapsed = max(1e-6, time.monotonic() - self.started)
        members = {name: self._pids(group) for name, group in self.groups.items()}
        now = {pid: cpu_ticks(pid) for pids in members.values() for pid in pids}
        # A process that exited during the window reads 0: it counts for nothing, not negative.
        used = {pid: max(0, ticks - self.ticks.get(pid, 0)) if ticks else 0 for pid, ticks in now.items()}
        out = {
            g: round(100 * sum(used[p] for p in pids) / CLK_TCK / elapsed, 1) for g, pids in members.items()
        }
        busy, total = machine_ticks()
        machine_pct = 100 * (busy - self.machine[0]) / max(1, total - self.machine[1])
        out["machine_busy_pct_of_all_cores"] = round(machine_pct, 1)
        # Everything else on the box (other people's tests, the bench's own orchestrator), in % of
        # one core: the machine's busy time less the groups measured here.
        ours = sum(v for g, v in out.items() if g.endswith("_pct") and not g.startswith("server_"))
        out["others_pct_of_one_core"] = round(max(0.0, machine_pct * (os.cpu_count() or 1) - ours), 1)
        return out
