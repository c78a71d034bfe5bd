"""Offline-push benchmark: notifications per second through Celery to a local provider server.

    .venv/bin/python bench/push.py --quick          # 1,000 users, about 2 minutes
    .venv/bin/python bench/push.py                  # 10,000 users, about 5 minutes
    .venv/bin/python bench/push.py --provider fcm --pool prefork --concurrency 2

It creates a throwaway PostgreSQL database, migrates it, creates an app (``manage.py create_app``),
provisions the users and a team of all of them (bench/provision.py), starts the provider's local
test server (bench/push_server.py around tests/push_servers/), gives every user one registered
device and the app the server's credentials (bench/push_app.py, through apps.push.services),
raises the app's push rate limit (PushSettings.rate_per_second, default 1,000/s) to 100,000/s so
that the limit is not what is measured, and starts real ``celery -A imcloud worker`` processes on
Redis database 11 (flushed before and after). Then:

1. burst: one message (apps.messaging.services.message_send) to the team of everyone, all
   offline: time from the send call to the last notification the server received, per worker
   configuration (thread pool vs prefork); the best configuration is used for the rest;
2. sustained: messages to teams of 100 at increasing offered rates for 30 s each (quick: 10 s):
   delivered notifications/s, latency, and whether the Celery backlog stayed bounded.

Every phase is checked: each device got exactly one notification per message (the server records
what it accepted) and every PushAttempt row is ``delivered``. If the target (2,000
notifications/s) is missed, one more burst runs under py-spy (``--profile auto``) and the JSON
names where the CPU went. CPU per process group is recorded for every phase.

Everything listens on and talks to 127.0.0.1. Every loop is bounded in count and time. Every child
(server, helper, workers) is stopped at the end, also on Ctrl-C, SIGTERM and errors (and dies with
the bench even on SIGKILL); the database is dropped and the Redis database flushed.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import gzip
import itertools
import json
import math
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import stack
from bench.run import (
    ADMIN_URL,
    base_env,
    bench_database,
    flush_redis,
    machine,
    percentiles,
    versions,
)

ROOT = stack.ROOT
REDIS_DB = 11
QUEUE = "celery"  # Celery's default queue (settings name no other)
TARGET_PER_S = 2_000
# A sustained step lags when less than 90 % of its notifications arrived by the end of its sending
# window plus this grace (the last messages of a window cannot have arrived at the window's end).
LAG_GRACE_S = 1.0
RATE_LIMIT = 100_000  # PushSettings.rate_per_second for the bench app (the service's maximum)


@dataclass
class Scale:
    users: int
    small_team_size: int
    sustained_rates: list[int]  # offered notifications per second
    step_s: float
    drain_max_s: float


FULL = Scale(
    users=10_000,
    small_team_size=100,
    sustained_rates=[200, 400, 600, 800, 1_000, 1_500, 2_000, 2_500, 3_000],
    step_s=30,
    drain_max_s=180,
)
QUICK = Scale(
    users=1_000, small_team_size=100, sustained_rates=[250, 500, 1_000, 2_000], step_s=10, drain_max_s=60
)


@dataclass(frozen=True)
class WorkerConfig:
    pool: str  # threads | prefork
    workers: int  # celery worker processes (each its own -n name)
    concurrency: int

    @property
    def label(self) -> str:
        return f"{self.pool} {self.workers}x{self.concurrency}"

    @property
    def processes(self) -> int:
        """Processes that send (each opens its own connection and signs its own provider JWT)."""
        return self.workers * (self.concurrency if self.pool == "prefork" else 1)


def log(message: str) -> None:
    print(f"[push-bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- children that talk JSON lines over stdin/stdout ----------------------------------------------


class JsonChild:
    """A child process answering one JSON line per command (bench/push_server.py, bench/push_app.py)."""

    def __init__(
        self, name: str, command: list[str], env: dict[str, str], log_path: Path, timeout: float
    ) -> None:
        self.name = name
        self.log_path = log_path
        with log_path.open("ab") as err:
            self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and scripts, no shell
                command,
                cwd=ROOT,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                start_new_session=True,
                preexec_fn=stack._die_with_parent,
            )
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.fd = self.proc.stdout.fileno()
        self.buffer = b""
        self.first = self.read(timeout)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def readable(self, timeout: float = 0.0) -> bool:
        if b"\n" in self.buffer:
            return True
        ready, _, _ = select.select([self.fd], [], [], timeout)
        return bool(ready)

    def read(self, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{self.name} did not answer within {timeout:.0f} s")
            ready, _, _ = select.select([self.fd], [], [], min(left, 1.0))
            if not ready:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.name} exited ({self.proc.returncode}); see {self.log_path}")
                continue
            chunk = os.read(self.fd, 1 << 16)
            if not chunk:
                raise RuntimeError(f"{self.name} closed its output; see {self.log_path}")
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        answer: dict[str, Any] = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"{self.name}: {answer['error']}\n{answer.get('traceback', '')}")
        return answer

    def send(self, op: str, **kwargs: Any) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps({"op": op, **kwargs}) + "\n").encode())
        self.proc.stdin.flush()

    def call(self, op: str, timeout: float = 60, **kwargs: Any) -> dict[str, Any]:
        self.send(op, **kwargs)
        return self.read(timeout)

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(OSError, ValueError):
                self.send("exit")
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=3)
        stack.stop([self.proc], grace=5)


# --- Celery workers ---------------------------------------------------------------------------------


class Workers:
    def __init__(self, config: WorkerConfig, env: dict[str, str], logs: Path, loglevel: str) -> None:
        self.config = config
        self.procs: list[subprocess.Popen[bytes]] = []
        for i in range(config.workers):
            command = [
                str(stack.BIN / "celery"),
                "-A",
                "imcloud",
                "worker",
                "--pool",
                config.pool,
                "--concurrency",
                str(config.concurrency),
                "--without-gossip",
                "--without-mingle",
                "-n",
                f"pushbench{i}@%h",
                "-Q",
                QUEUE,
                "--loglevel",
                loglevel,
            ]
            self.procs.append(stack.spawn(command, env=env, log=logs / f"worker-{config.pool}-{i}.log"))

    def pids(self) -> list[int]:
        """The worker processes and their pool children (prefork)."""
        parents = {p.pid for p in self.procs if p.poll() is None}
        found = set(parents)
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError, IndexError, ValueError):
                    ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                    if ppid in parents:
                        found.add(int(entry.name))
        return sorted(found)

    def check(self) -> None:
        dead = [p.pid for p in self.procs if p.poll() is not None]
        if dead:
            raise RuntimeError(f"celery worker {dead} exited")

    def stop(self) -> None:
        stack.stop(self.procs, grace=15)


# --- measurements -----------------------------------------------------------------------------------


def _ticks(pid: int) -> tuple[int, int]:
    """(own utime+stime, reaped children's cutime+cstime) of a process, 0s if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0, 0
    return int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14])


def postmaster_pid() -> int | None:
    """The PostgreSQL server process: the ``postgres`` whose parent is not a ``postgres``."""
    names = set(stack.pids_named("postgres"))
    for pid in names:
        with contextlib.suppress(OSError, IndexError, ValueError):
            ppid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
            if ppid not in names:
                return pid
    return None


class Cpu:
    """CPU of process groups over a window, in % of one core, plus all of PostgreSQL.

    PostgreSQL backends may live for less than a window (Celery's Django fix-up closed the database
    connection around every task until the workers set CELERY_DB_REUSE_MAX; CONN_MAX_AGE still
    retires them): they are counted through the postmaster's reaped-children time (cutime +
    cstime) plus the backends alive at the end. This is the whole
    PostgreSQL cluster (other databases' work on a shared box included; it is idle otherwise).
    """

    def __init__(self, groups: dict[str, list[int]]) -> None:
        self.window = stack.CpuWindow(groups)
        self.master = postmaster_pid()
        self.pg_start: dict[int, int] = {}
        self.master_children = 0
        self.started = 0.0

    def start(self) -> None:
        self.window.start()
        self.started = time.monotonic()
        self.pg_start = {pid: _ticks(pid)[0] for pid in stack.pids_named("postgres")}
        self.master_children = _ticks(self.master)[1] if self.master else 0

    def read(self) -> dict[str, float]:
        out = self.window.read()
        elapsed = max(1e-6, time.monotonic() - self.started)
        live = sum(_ticks(pid)[0] - self.pg_start.get(pid, 0) for pid in stack.pids_named("postgres"))
        reaped = (_ticks(self.master)[1] - self.master_children) if self.master else 0
        out["postgres_pct"] = round(100 * max(0, live + reaped) / stack.CLK_TCK / elapsed, 1)
        ours = sum(v for k, v in out.items() if k.endswith("_pct"))
        machine = out["machine_busy_pct_of_all_cores"] * (os.cpu_count() or 1)
        out["others_pct_of_one_core"] = round(max(0.0, machine - ours), 1)
        return out


class Redis:
    def __init__(self, url: str) -> None:
        import redis

        self.client = redis.Redis.from_url(url)

    def backlog(self) -> dict[str, int]:
        """Tasks waiting in the queue, and tasks taken by a worker and not yet acknowledged."""
        pipe = self.client.pipeline()
        pipe.llen(QUEUE)
        pipe.hlen("unacked")
        queued, unacked = pipe.execute()
        return {"queued": int(queued), "unacked": int(unacked)}


PG_FIELDS = ("xact_commit", "xact_rollback", "tup_inserted", "tup_updated", "tup_deleted", "tup_fetched")


def pg_counters(database: str) -> dict[str, int]:
    import psycopg

    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        row = conn.execute(
            f"SELECT {', '.join(PG_FIELDS)} FROM pg_stat_database WHERE datname = %s",  # noqa: S608 - constants
            [database],
        ).fetchone()
    return dict(zip(PG_FIELDS, (int(v) for v in row or (0,) * len(PG_FIELDS)), strict=True))


def pg_settled(database: str, limit_s: float = 12) -> dict[str, int]:
    """PostgreSQL publishes a backend's counters up to ~10 s after its last transaction: wait for
    two equal readings one second apart (bounded)."""
    deadline = time.monotonic() + limit_s
    last = pg_counters(database)
    while time.monotonic() < deadline:
        time.sleep(1)
        now = pg_counters(database)
        if now == last:
            return now
        last = now
    return last


def per_notification(before: dict[str, int], after: dict[str, int], n: int) -> dict[str, float]:
    return {k: round((after[k] - before[k]) / n, 3) for k in PG_FIELDS} if n else {}


def cpu_ms_per_notification(cpu: dict[str, float], seconds: float, n: int) -> dict[str, float]:
    """% of one core over ``seconds`` -> CPU milliseconds per notification, per process group."""
    if not n:
        return {}
    out = {}
    for group, pct in cpu.items():
        if group.endswith("_pct") or group == "others_pct_of_one_core":
            out[group.removesuffix("_pct").removesuffix("_pct_of_one_core")] = round(
                pct / 100 * seconds * 1000 / n, 3
            )
    out["total_box"] = round(
        cpu.get("machine_busy_pct_of_all_cores", 0) / 100 * (os.cpu_count() or 1) * seconds * 1000 / n, 3
    )
    return out


# --- the bench ----------------------------------------------------------------------------------------


class Bench:
    def __init__(self, args: argparse.Namespace, scale: Scale, env: dict[str, str], tmp: Path, database: str):
        self.args, self.scale, self.env, self.tmp, self.database = args, scale, env, tmp, database
        self.redis = Redis(env["REDIS_URL"])
        self.server: JsonChild | None = None
        self.app: JsonChild | None = None
        self.workers: Workers | None = None
        self.big_team = ""
        self.small_teams: list[list[str]] = []
        self.devices = 0
        self.dumps = 0
        self.profile_dir: Path | None = None

    # --- lifecycle ----------------------------------------------------------------------------------

    def start_server(self, lenient_jwt: bool) -> dict[str, Any]:
        command = [sys.executable, str(ROOT / "bench" / "push_server.py"), "--provider", self.args.provider]
        if lenient_jwt:
            command.append("--lenient-jwt")
        self.server = JsonChild("push server", command, self.env, self.tmp / "push-server.log", timeout=30)
        return self.server.first

    def start_app(self, app_key: str) -> None:
        env = {**self.env, "PUSH_BENCH_APP_KEY": app_key}
        command = [sys.executable, str(ROOT / "bench" / "push_app.py")]
        self.app = JsonChild("bench app process", command, env, self.tmp / "push-app.log", timeout=60)

    def stop_all(self) -> None:
        for stopper in (self.workers, self.app, self.server):
            if stopper is not None:
                with contextlib.suppress(Exception):
                    stopper.stop()
        self.workers = None

    def groups(self) -> dict[str, list[int]]:
        assert self.server
        assert self.app
        assert self.workers
        return {
            "workers_pct": self.workers.pids(),
            "push_server_pct": [self.server.pid],
            "app_sender_pct": [self.app.pid],
            "redis_server_pct": stack.pids_named("redis-server"),
            "bench_orchestrator_pct": [os.getpid()],
        }

    # --- provisioning -------------------------------------------------------------------------------

    def provision(self, server_info: dict[str, Any]) -> dict[str, Any]:
        assert self.app
        assert self.server
        started = time.monotonic()
        provider = self.args.provider
        summary = self.app.call("credentials", provider=provider, credentials=server_info.get("credentials"))
        subscriptions = None
        if provider == "webpush":
            subscriptions = str(self.tmp / "subscriptions.json")
            self.server.call(
                "subscribe",
                timeout=300,
                count=self.scale.users,
                key=summary["summary"]["vapid_public_key"],
                path=subscriptions,
            )
        self.devices = self.app.call(
            "devices", timeout=600, provider=provider, count=self.scale.users, subscriptions=subscriptions
        )["devices"]
        settings = self.app.call("settings", rate_per_second=RATE_LIMIT)
        size = self.scale.small_team_size
        self.small_teams = self.app.call(
            "small_teams", timeout=600, size=size, count=self.scale.users // size
        )["teams"]
        return {
            "provider": provider,
            "credentials_summary": summary["summary"],
            "devices": self.devices,
            "push_settings": settings,
            "small_teams": len(self.small_teams),
            "small_team_size": size,
            "seconds": round(time.monotonic() - started, 1),
        }

    # --- helpers ------------------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        assert self.server
        return self.server.call("stats")

    def dump(self) -> dict[str, Any]:
        assert self.server
        self.dumps += 1
        path = self.tmp / f"received-{self.dumps}.json"
        self.server.call("dump", timeout=120, path=str(path))
        received: dict[str, Any] = json.loads(path.read_text())
        received["path"] = str(path)
        return received

    def reset(self) -> None:
        assert self.server
        self.server.call("reset")

    def wait_idle(self, limit: float = 60) -> float:
        """Wait (bounded) until no task is queued or held by a worker."""
        started = time.monotonic()
        while time.monotonic() - started < limit:
            backlog = self.redis.backlog()
            if backlog["queued"] == 0 and backlog["unacked"] == 0:
                break
            time.sleep(0.2)
        return round(time.monotonic() - started, 1)

    def wait_delivered(
        self,
        expected: int,
        stall_s: float,
        max_s: float,
        series: list[list[float]] | None = None,
        t_ref: float = 0.0,
    ) -> dict[str, Any]:
        """Poll the server until ``expected`` notifications arrived, nothing came for ``stall_s``,
        or ``max_s`` passed. Optionally records (t, delivered, queued, unacked) samples."""
        assert self.workers
        started = last_progress = time.monotonic()
        seen = -1
        stats = self.stats()
        while True:
            stats = self.stats()
            if series is not None:
                backlog = self.redis.backlog()
                series.append(
                    [round(time.time() - t_ref, 2), stats["delivered"], backlog["queued"], backlog["unacked"]]
                )
            if stats["delivered"] >= expected:
                break
            now = time.monotonic()
            if stats["delivered"] > seen:
                seen, last_progress = stats["delivered"], now
            if now - last_progress > stall_s or now - started > max_s:
                break
            self.workers.check()
            time.sleep(0.1 if series is None else 0.25)
        return stats

    def warm_up(self, config: WorkerConfig) -> dict[str, Any]:
        """A few small-team messages, so that every sending process has its connection and JWT
        (and the workers are up: a task waits in the queue until one is)."""
        assert self.app
        self.reset()
        count = max(2, 2 * config.processes)
        sent = 0
        for k in range(count):
            team, owner = self.small_teams[k % len(self.small_teams)]
            self.app.call("send", sender=owner, team=team, text=f"warm-up {k}")
            sent += self.scale.small_team_size - 1
        started = time.monotonic()
        stats = self.wait_delivered(sent, stall_s=60, max_s=120)
        self.wait_idle()
        return {
            "notifications": sent,
            "received": stats["delivered"],
            "seconds": round(time.monotonic() - started, 1),
            "statuses": stats["statuses"],
        }

    def profile(self, label: str, duration: float) -> subprocess.Popen[bytes] | None:
        py_spy = shutil.which("py-spy") or str(stack.BIN / "py-spy")
        if self.profile_dir is None or not Path(py_spy).exists() or self.workers is None:
            return None
        out = self.profile_dir / f"{label}.txt"
        parent = self.workers.procs[0].pid
        return subprocess.Popen(  # noqa: S603 - py-spy on our own child
            [
                py_spy,
                "record",
                "--pid",
                str(parent),
                "--subprocesses",
                "--duration",
                str(int(duration)),
                "--rate",
                "250",
                "--format",
                "raw",
                "--nonblocking",
                "--gil",
                "--output",
                str(out),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    # --- 0. the HTTP path alone -----------------------------------------------------------------------

    def calibrate(self, count: int, threads: int) -> dict[str, Any]:
        """The provider client and the local server without Celery or the database: what the
        measuring instrument (the double) and the client cost per notification."""
        assert self.app
        assert self.server
        self.reset()
        cpu = Cpu({"push_server_pct": [self.server.pid], "app_direct_sender_pct": [self.app.pid]})
        cpu.start()
        direct = self.app.call("direct", timeout=300, count=count, threads=threads)
        seconds = direct["seconds"]
        cpu_pct = cpu.read()
        stats = self.stats()
        n = stats["delivered"]
        server_ms = cpu_pct["push_server_pct"] / 100 * seconds * 1000 / max(1, stats["delivered"])
        result = {
            **direct,
            "server_received": n,
            "server_statuses": stats["statuses"],
            "cpu_pct_of_one_core": cpu_pct,
            "server_cpu_ms_per_request": round(server_ms, 3),
            "server_ceiling_per_s_one_core": round(1000 / server_ms) if server_ms else None,
        }
        log(f"calibration ({threads} threads): {result}")
        return result

    # --- 1. burst -----------------------------------------------------------------------------------

    def burst(self, config: WorkerConfig, profile_label: str = "") -> dict[str, Any]:
        assert self.app
        expected = self.devices - 1  # every member but the sender, one device each
        load_before = list(os.getloadavg())
        self.reset()
        self.wait_idle()
        before = pg_settled(self.database)
        groups = self.groups()
        cpu = Cpu(groups)
        profiler = self.profile(profile_label, 10 + expected / 250) if profile_label else None
        cpu.start()
        sent = self.app.call(
            "send", timeout=120, sender="u000000", team=self.big_team, text="burst to everyone"
        )
        stats = self.wait_delivered(expected, stall_s=30, max_s=120 + expected / 50)
        window_s = time.time() - sent["t0"]
        cpu_pct = cpu.read()
        if profiler is not None:
            profiler.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                profiler.wait(timeout=30)
        self.wait_idle()
        received = self.dump()
        after = pg_settled(self.database)
        times = [
            t for t, m in zip(received["times"], received["msg_ids"], strict=True) if m == sent["message_id"]
        ]
        n = len(times)
        t0 = sent["t0"]
        latencies = array("f", ((t - t0) * 1000 for t in times))
        first, last = (min(times), max(times)) if times else (t0, t0)
        verify = self.app.call("verify", timeout=300, dump=received["path"], message_ids=[sent["message_id"]])
        ordered = sorted(times)
        # Gaps of a quarter second or more in which the server received nothing (while a batch's
        # workers were planning, claiming or recording instead of sending).
        gaps = [b - a for a, b in itertools.pairwise(ordered) if b - a >= 0.25]
        p95_s = (ordered[max(0, int(0.95 * n) - 1)] - t0) if n else 0.0
        curve = (
            [[round(ordered[min(n - 1, i * n // 100)] - t0, 3), min(n, i * n // 100 + 1)] for i in range(101)]
            if n
            else []
        )
        result = {
            "config": dataclasses.asdict(config)
            | {"label": config.label, "sending_processes": config.processes},
            "recipients": expected,
            "received": n,
            "send_call_ms": round((sent["t1"] - t0) * 1000, 1),
            "first_notification_s": round(first - t0, 3),
            "last_notification_s": round(last - t0, 3),
            "notifications_per_s": round(n / max(1e-6, last - t0), 1),
            "notifications_per_s_first_to_last": round(n / max(1e-6, last - first), 1),
            # Insensitive to a few retried notifications (backoff of 1-2 s) at the tail:
            "notifications_per_s_to_p95": round(0.95 * n / max(1e-6, p95_s), 1),
            "latency_ms": percentiles(latencies),
            "pauses_over_250ms": {"count": len(gaps), "seconds": round(sum(gaps), 2)},
            "load_average_before": load_before,
            "server_statuses": stats["statuses"],
            "distinct_connections": stats["connections"],
            "server_errors": stats["errors"],
            "verify": verify,
            "cpu_pct_of_one_core": cpu_pct,
            "cpu_ms_per_notification": cpu_ms_per_notification(cpu_pct, window_s, n),
            "postgres_per_notification": per_notification(before, after, n),
            "curve_s_vs_received": curve,
            "meets_target": n / max(1e-6, last - t0) >= TARGET_PER_S and verify["exactly_once"],
        }
        log(
            f"burst [{config.label}]: {n}/{expected} in {last - t0:.2f} s -> "
            f"{result['notifications_per_s']:.0f}/s (first after {first - t0:.2f} s; "
            f"p50 {result['latency_ms']['p50']} ms, p99 {result['latency_ms']['p99']} ms); "
            f"exactly once {verify['exactly_once']}, attempts {verify['attempts_by_status']}; "
            f"cpu ms/notification {result['cpu_ms_per_notification']}"
        )
        return result

    # --- 2. sustained -------------------------------------------------------------------------------

    def sustained_step(self, rate: int, profile_label: str = "") -> dict[str, Any]:
        assert self.app
        assert self.workers
        size = self.scale.small_team_size
        per_message = size - 1
        msg_rate = rate / per_message
        duration = self.scale.step_s
        self.reset()
        self.wait_idle()
        before = pg_settled(self.database)
        cpu = Cpu(self.groups())
        series: list[list[float]] = []
        targets = [[owner, team] for team, owner in self.small_teams]
        t_ref = time.time()
        profiler = self.profile(profile_label, duration) if profile_label else None
        cpu.start()
        self.app.send("stream", rate=msg_rate, duration=duration, targets=targets)
        # While the app process sends: sample the server and the queue (bounded by the stream's own bound).
        deadline = time.monotonic() + duration + 60
        while not self.app.readable(0.5):
            stats = self.stats()
            backlog = self.redis.backlog()
            series.append(
                [round(time.time() - t_ref, 2), stats["delivered"], backlog["queued"], backlog["unacked"]]
            )
            self.workers.check()
            if time.monotonic() > deadline:
                raise TimeoutError("the app process did not finish its sends")
        stream = self.app.read(30)
        cpu_pct = cpu.read()
        window_end = time.time()
        sent = stream["messages"]
        expected = len(sent) * per_message
        drain_started = time.monotonic()
        stats = self.wait_delivered(
            expected, stall_s=15, max_s=self.scale.drain_max_s, series=series, t_ref=t_ref
        )
        drain_s = time.monotonic() - drain_started
        if profiler is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                profiler.wait(timeout=30)
        self.wait_idle()
        received = self.dump()
        after = pg_settled(self.database)
        send_time = {int(m): t for m, t in sent}
        window_start = min(send_time.values()) if send_time else t_ref
        latencies = array("f")
        in_window = by_grace = 0
        for m, t in zip(received["msg_ids"], received["times"], strict=True):
            t_send = send_time.get(m)
            if t_send is None:
                continue
            latencies.append((t - t_send) * 1000)
            if t <= window_end:
                in_window += 1
            if t <= window_end + LAG_GRACE_S:
                by_grace += 1
        verify = self.app.call("verify", timeout=300, dump=received["path"], message_ids=list(send_time))
        window_s = max(1e-6, window_end - window_start)
        queued_max = max((s[2] for s in series), default=0)
        end_of_window = [s for s in series if s[0] <= window_end - t_ref]
        queued_at_end = end_of_window[-1][2] if end_of_window else 0
        lat = percentiles(latencies)
        lagging = by_grace < 0.9 * expected
        # Seconds after the window until 99.9 % of the notifications had arrived (None: never). A
        # notification lost for good (a failed attempt) must not read as a backlog.
        arrived = sorted(
            t for m, t in zip(received["msg_ids"], received["times"], strict=True) if m in send_time
        )
        need = math.ceil(0.999 * expected)
        settle_999_s = (
            round(max(0.0, arrived[need - 1] - window_end), 2) if 0 < need <= len(arrived) else None
        )
        queue_small = queued_at_end <= max(5, 0.05 * len(sent))
        bounded = (
            not lagging
            and queue_small
            and settle_999_s is not None
            and settle_999_s <= max(5.0, 0.2 * duration)
        )
        result = {
            "offered_notifications_per_s": rate,
            "offered_msgs_per_s": round(msg_rate, 2),
            "team_size": size,
            "seconds": duration,
            "messages_sent": len(sent),
            "messages_late": stream["late"],
            "mean_send_call_ms": stream["mean_send_call_ms"],
            "generator_kept_up": len(sent) >= 0.95 * msg_rate * duration,
            "expected_notifications": expected,
            "received": len(latencies),
            "delivered_per_s_in_window": round(in_window / window_s, 1),
            "delivered_per_s_overall": round(len(latencies) / max(1e-6, window_s + drain_s), 1),
            "drain_s": round(drain_s, 2),
            "queue_max": queued_max,
            "queue_at_end_of_window": queued_at_end,
            "received_by_window_end_plus_grace": by_grace,
            "lagging": lagging,
            "load_average_before": list(os.getloadavg()),
            "settle_to_99_9_pct_after_window_s": settle_999_s,
            "backlog_bounded": bounded,
            "latency_ms": lat,
            "server_statuses": stats["statuses"],
            "verify": verify,
            "cpu_pct_of_one_core": cpu_pct,
            "cpu_ms_per_notification": cpu_ms_per_notification(cpu_pct, window_s, in_window),
            "postgres_per_notification": per_notification(before, after, len(latencies)),
            "series_t_delivered_queued_unacked": series,
        }
        log(
            f"sustained {rate}/s offered ({msg_rate:.1f} msg/s x{per_message}): delivered "
            f"{result['delivered_per_s_in_window']:.0f}/s in window, drain {drain_s:.1f} s, "
            f"queue max {queued_max}, "
            f"p50 {lat['p50']} p99 {lat['p99']} ms; exactly once {verify['exactly_once']}, attempts "
            f"{verify['attempts_by_status']}; cpu {cpu_pct}"
        )
        return result


# --- profiles ------------------------------------------------------------------------------------------

# (name, frames one of which must be on the stack, frames none of which may be): shares of samples.
CATEGORIES: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = [
    ("push code and what it calls (any apps/push frame; the send threads included)", ("(apps/push/",), ()),
    ("  plan (fixed number of queries)", ("plan (apps/push/fanout.py",), ()),
    ("  reserve (bulk INSERT, one UPDATE ... RETURNING per batch)", ("reserve (apps/push/fanout.py",), ()),
    ("  provider send (apps/push/providers)", (".send (apps/push/providers/",), ()),
    ("    httpx Client.post", ("Client.post (httpx/_client.py",), ()),
    ("    h2 / hpack / hyperframe (HTTP/2 framing)", ("(h2/", "(hpack/", "(hyperframe/"), ()),
    ("    httpx cookie jar (per request and response)", ("Cookies.", "(http/cookiejar.py"), ()),
    ("    h2 StreamClosedError (streams torn down by the thread race)", ("StreamClosedError",), ()),
    ("  record (one UPDATE ... FROM VALUES per 100 outcomes)", ("record (apps/push/fanout.py",), ()),
    ("  Django ORM (all queries)", ("(django/db/",), ()),
    ("  psycopg", ("(psycopg/",), ()),
    ("outside push code (Celery/kombu loop, thread start-up and idle bookkeeping)", (), ("(apps/push/",)),
]


def summarize_profile(path: Path) -> dict[str, Any]:
    """Shares of samples per category and the top leaf frames, from py-spy's raw (collapsed) output."""
    if not path.exists():
        return {"missing": str(path)}
    total = 0
    shares = {name: 0 for name, _, _ in CATEGORIES}
    leaves: dict[str, int] = {}
    for line in path.read_text().splitlines():
        stack_text, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        for name, anyof, noneof in CATEGORIES:
            if (not anyof or any(f in stack_text for f in anyof)) and not any(
                f in stack_text for f in noneof
            ):
                shares[name] += n
        leaf = stack_text.rsplit(";", 1)[-1]
        leaves[leaf] = leaves.get(leaf, 0) + n
    top = sorted(leaves.items(), key=lambda kv: -kv[1])[:15]
    # Keep the collapsed stacks (for flamegraph.pl or speedscope), compressed: they run to megabytes.
    packed = path.with_name(path.name + ".gz")
    with path.open("rb") as raw, gzip.open(packed, "wb") as out:
        shutil.copyfileobj(raw, out)
    path.unlink()
    return {
        "samples": total,
        "file": str(packed.relative_to(ROOT) if packed.is_relative_to(ROOT) else packed),
        "share_pct": {k: round(100 * v / total, 1) for k, v in shares.items()} if total else {},
        "top_leaf_pct": {k: round(100 * v / total, 1) for k, v in top} if total else {},
    }


# --- main ------------------------------------------------------------------------------------------------


def git_state() -> dict[str, Any]:
    """The commit and the uncommitted paths (read-only git queries): the workers run this checkout."""

    def git(*args: str) -> str:
        done = subprocess.run(  # noqa: S603 - read-only git queries
            ["git", *args],  # noqa: S607 - git from PATH, as bench/run.py
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        return done.stdout

    dirty = [line[3:] for line in git("status", "--porcelain").splitlines() if len(line) > 3]
    return {"commit": git("rev-parse", "HEAD").strip(), "uncommitted_paths": dirty}


def parse_configs(text: str) -> list[WorkerConfig]:
    out = []
    for item in text.split(","):
        if not item.strip():
            continue
        pool, workers, concurrency = item.strip().split(":")
        out.append(WorkerConfig(pool, int(workers), int(concurrency)))
    return out


def _ceiling(burst: dict[str, Any] | None, *, with_double: bool) -> float | None:
    if not burst:
        return None
    ms = burst["cpu_ms_per_notification"]
    total = ms.get("total_box", 0) - (0 if with_double else ms.get("push_server", 0))
    return round((os.cpu_count() or 1) * 1000 / total) if total > 0 else None


def summarize(results: dict[str, Any]) -> dict[str, Any]:
    bursts = [b for b in results.get("burst", []) if "notifications_per_s" in b]
    best_burst = max(bursts, key=lambda b: b["notifications_per_s"], default=None)
    steps = results.get("sustained", {}).get("steps", [])
    ok = [s for s in steps if s["backlog_bounded"]]
    best_step = max(ok, key=lambda s: s["delivered_per_s_in_window"], default=None)
    burst_rate = best_burst["notifications_per_s"] if best_burst else 0
    sustained_rate = best_step["delivered_per_s_in_window"] if best_step else 0
    correct = all(
        b["verify"]["exactly_once"] and b["verify"]["all_attempts_delivered"] for b in bursts
    ) and all(s["verify"]["exactly_once"] and s["verify"]["all_attempts_delivered"] for s in steps)
    return {
        "burst_best_notifications_per_s": burst_rate,
        "burst_best_config": best_burst["config"]["label"] if best_burst else None,
        "burst_by_config": {b["config"]["label"]: b["notifications_per_s"] for b in bursts},
        "burst_to_p95_by_config": {b["config"]["label"]: b["notifications_per_s_to_p95"] for b in bursts},
        "config_chosen_for_sustained_and_profile": results.get("sustained", {}).get("config"),
        "burst_seconds_to_last": best_burst["last_notification_s"] if best_burst else None,
        "burst_latency_ms": best_burst["latency_ms"] if best_burst else None,
        "sustained_max_bounded_per_s": sustained_rate,
        "sustained_at_offered": best_step["offered_notifications_per_s"] if best_step else None,
        "sustained_latency_ms_there": best_step["latency_ms"] if best_step else None,
        "sustained_max_delivered_per_s_any_step": max(
            (s["delivered_per_s_in_window"] for s in steps), default=0
        ),
        "every_device_exactly_once_and_all_attempts_delivered": correct,
        "cpu_ms_per_notification_at_best_burst": best_burst["cpu_ms_per_notification"]
        if best_burst
        else None,
        # What this box could do if CPU were the only limit, with and without the local double on it.
        "box_ceiling_per_s_at_full_cpu": _ceiling(best_burst, with_double=True),
        "box_ceiling_per_s_at_full_cpu_without_the_double": _ceiling(best_burst, with_double=False),
        "target": {
            "notifications_per_s": TARGET_PER_S,
            "burst_met": burst_rate >= TARGET_PER_S,
            "sustained_met": sustained_rate >= TARGET_PER_S,
            "met": burst_rate >= TARGET_PER_S and sustained_rate >= TARGET_PER_S and correct,
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="1,000 users, 10 s sustained steps")
    parser.add_argument("--provider", choices=["apns", "fcm", "webpush"], default="apns")
    parser.add_argument(
        "--pool",
        choices=["threads", "prefork"],
        default="threads",
        help="Celery pool of the main configuration (default threads)",
    )
    parser.add_argument("--workers", type=int, default=1, help="celery worker processes (default 1)")
    parser.add_argument(
        "--concurrency", type=int, help="per worker: threads (default 4) or prefork children (default 2)"
    )
    parser.add_argument(
        "--compare",
        default="auto",
        help="other configurations for the burst, pool:workers:concurrency,... ('auto': "
        "threads:1:4,prefork:1:2,threads:2:4 minus the main one; 'none')",
    )
    parser.add_argument("--rates", help="sustained offered notifications/s, e.g. 500,1000,2000")
    parser.add_argument("--step-seconds", type=float, help="length of each sustained step")
    parser.add_argument("--users", type=int, help="override the number of users (= big team size)")
    parser.add_argument("--scenarios", default="calibrate,burst,sustained")
    parser.add_argument(
        "--profile",
        choices=["auto", "on", "off", "sustained"],
        default="auto",
        help="py-spy the workers in one extra burst (auto: when the target is missed); "
        "'sustained': py-spy them during every sustained step instead (figures then include py-spy's cost)",
    )
    parser.add_argument(
        "--strict-jwt",
        action="store_true",
        help="keep the APNs double's 20-minute JWT rule even with several sending processes",
    )
    parser.add_argument(
        "--worker-loglevel",
        default="WARNING",
        help="celery --loglevel (default WARNING, the worker command of docs/operations.md)",
    )
    parser.add_argument(
        "--out", type=Path, help="JSON path (default bench/results/push-<timestamp>[-quick].json)"
    )
    parser.add_argument("--no-plot", action="store_true")
    parser.add_argument("--keep-logs", action="store_true")
    args = parser.parse_args()

    scale = dataclasses.replace(QUICK if args.quick else FULL)
    if args.users:
        scale.users = args.users
    if args.rates:
        scale.sustained_rates = [int(r) for r in args.rates.split(",")]
    if args.step_seconds:
        scale.step_s = args.step_seconds
    scenarios = [s for s in args.scenarios.split(",") if s]
    concurrency = args.concurrency or (4 if args.pool == "threads" else 2)
    main_config = WorkerConfig(args.pool, args.workers, concurrency)
    if args.compare == "none":
        configs = [main_config]
    else:
        text = "threads:1:4,prefork:1:2,threads:2:4" if args.compare == "auto" else args.compare
        configs = [main_config] + [c for c in parse_configs(text) if c != main_config]
    multi_process = any(c.processes > 1 for c in configs)
    lenient = args.provider == "apns" and multi_process and not args.strict_jwt

    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    out_path: Path = (
        args.out or ROOT / "bench" / "results" / f"push-{stamp}{'-quick' if args.quick else ''}.json"
    )
    out_path.parent.mkdir(parents=True, exist_ok=True)

    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    started = time.monotonic()
    results: dict[str, Any] = {
        "benchmark": "imcloud offline push: notifications/s through Celery to a local provider server",
        "mode": "quick" if args.quick else "full",
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "load_average_at_start": list(os.getloadavg()),
    }
    results["parameters"] = {
        **dataclasses.asdict(scale),
        "provider": args.provider,
        "main_config": main_config.label,
        "burst_configs": [c.label for c in configs],
        "scenarios": scenarios,
        "redis_db": REDIS_DB,
        "push_rate_per_second_setting": RATE_LIMIT,
        "worker_loglevel": args.worker_loglevel,
        "apns_double_lenient_jwt": lenient,
        "double_front": "bench/push_server.py --front (default: h2c for apns, hypercorn for the others; "
        "hypercorn's 1,000-request cap per connection raised to 1e9); the one used is setup.double_front",
        "send_path": "apps.messaging.services.message_send in bench/push_app.py (one process)",
        "target_notifications_per_s": TARGET_PER_S,
    }
    results["machine"] = machine()
    results["versions"] = versions()
    for name in (
        "celery",
        "kombu",
        "httpx",
        "httpcore",
        "h2",
        "Hypercorn",
        "PyJWT",
        "cryptography",
        "pycurl",
    ):
        with contextlib.suppress(Exception):
            from importlib import metadata

            results["versions"][name] = metadata.version(name)
    results["git"] = git_state()
    log(f"{results['mode']} run: {results['parameters']}; load {results['load_average_at_start']}")

    tmp = Path(tempfile.mkdtemp(prefix="imcloud-push-bench-"))
    exit_code = 0
    bench: Bench | None = None
    redis_url = f"redis://127.0.0.1:6379/{REDIS_DB}"
    try:
        with bench_database() as dbname:
            env = base_env(
                tmp,
                DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{dbname}",
                REDIS_URL=redis_url,
                CELERY_BROKER_URL=redis_url,
                IMCLOUD_LOG_LEVEL="WARNING",
                IMCLOUD_PUSH_ALLOW_PRIVATE_ENDPOINTS="1",
            )
            flush_redis(redis_url)
            bench = Bench(args, scale, env, tmp, dbname)
            try:
                t0 = time.monotonic()
                stack.run([sys.executable, "manage.py", "migrate", "--noinput"], env=env, timeout=300)
                create_app = [
                    sys.executable,
                    "manage.py",
                    "create_app",
                    "--owner-email",
                    "bench@example.com",
                    "--name",
                    "push bench",
                ]
                keys = json.loads(stack.run(create_app, env=env, timeout=120))
                provision = [
                    sys.executable,
                    str(ROOT / "bench" / "provision.py"),
                    "--app-key",
                    keys["app_key"],
                    "--users",
                    str(scale.users),
                    "--teams",
                    str(scale.users),
                ]
                provisioned = json.loads(stack.run(provision, env=env, timeout=900))
                bench.big_team = provisioned["teams"][str(scale.users)]
                info = bench.start_server(lenient)
                url = info["url"]
                for name in ("APNS_SANDBOX_URL", "APNS_PRODUCTION_URL", "FCM_URL"):
                    env[f"IMCLOUD_PUSH_{name}"] = url
                bench.start_app(keys["app_key"])
                setup = bench.provision(info)
                results["setup"] = {
                    **provisioned,
                    **setup,
                    "server_url": url,
                    "double_front": info.get("front", "hypercorn"),
                    "seconds": round(time.monotonic() - t0, 1),
                }
                log(f"setup: {results['setup']}")

                if "calibrate" in scenarios:
                    n = min(3000, bench.devices)
                    results["calibration"] = {
                        "what": "bench/push_app.py sends straight through apps.push.providers (no Celery, no "
                        "database per send) to the local server; the client and server CPU per notification",
                        "threads_1": bench.calibrate(min(500, n), 1),
                        # fanout.SEND_THREADS per task: one push.deliver task's concurrency
                        "threads_16": bench.calibrate(n, 16),
                        # four such tasks at once in one process (the thread pool's default here)
                        "threads_64": bench.calibrate(n, 64),
                    }

                bursts: list[dict[str, Any]] = []
                if "burst" in scenarios:
                    for config in configs:
                        bench.workers = Workers(config, env, tmp, args.worker_loglevel)
                        try:
                            warm = bench.warm_up(config)
                            log(f"workers [{config.label}] warm: {warm}")
                            one = bench.burst(config)
                            one["warm_up"] = warm
                            bursts.append(one)
                        finally:
                            bench.workers.stop()
                            bench.workers = None
                    results["burst"] = bursts
                # The best configuration by the rate to the 95th percentile: a few retried notifications
                # (1-2 s of backoff) decide the time to the last one, not the capacity.
                best = (
                    max(bursts, key=lambda b: b["notifications_per_s_to_p95"])["config"] if bursts else None
                )
                best_config = (
                    WorkerConfig(best["pool"], best["workers"], best["concurrency"]) if best else main_config
                )
                missed = any(b["notifications_per_s"] < TARGET_PER_S for b in bursts)
                want_profile = args.profile == "on" or (args.profile == "auto" and missed)
                profile_steps = args.profile == "sustained"
                if profile_steps or (want_profile and "burst" in scenarios):
                    bench.profile_dir = out_path.with_suffix("") / "profiles"
                    bench.profile_dir.mkdir(parents=True, exist_ok=True)
                if "sustained" in scenarios:
                    bench.workers = Workers(best_config, env, tmp, args.worker_loglevel)
                    try:
                        sustained: dict[str, Any] = {
                            "config": best_config.label,
                            "warm_up": bench.warm_up(best_config),
                            "steps": [],
                        }
                        results["sustained"] = sustained
                        for rate in scale.sustained_rates:
                            label = f"sustained-{rate}" if profile_steps else ""
                            step = bench.sustained_step(rate, profile_label=label)
                            if label and bench.profile_dir is not None:
                                step["profile"] = summarize_profile(bench.profile_dir / f"{label}.txt")
                            sustained["steps"].append(step)
                            if step["lagging"] or not step["generator_kept_up"]:
                                break
                    finally:
                        bench.workers.stop()
                        bench.workers = None
                if bench.profile_dir is not None and not profile_steps:
                    # One more burst with py-spy attached to the workers (not counted in the figures).
                    bench.workers = Workers(best_config, env, tmp, args.worker_loglevel)
                    try:
                        bench.warm_up(best_config)
                        label = f"burst-{best_config.pool}-{best_config.workers}x{best_config.concurrency}"
                        profiled = bench.burst(best_config, profile_label=label)
                        results["profile"] = {
                            "config": best_config.label,
                            "mode": "py-spy --gil (samples of the thread holding the GIL: CPU in Python)",
                            "burst_under_py_spy": {
                                k: profiled[k]
                                for k in ("notifications_per_s", "latency_ms", "cpu_ms_per_notification")
                            },
                            "workers": summarize_profile(bench.profile_dir / f"{label}.txt"),
                        }
                        log(f"profile: {results['profile']}")
                    finally:
                        bench.workers.stop()
                        bench.workers = None
            finally:
                if bench is not None:
                    bench.stop_all()
                flush_redis(redis_url)
                if args.keep_logs:
                    logs_dir = out_path.with_suffix("") / "logs"
                    logs_dir.mkdir(parents=True, exist_ok=True)
                    for logfile in tmp.glob("*.log"):
                        shutil.copy(logfile, logs_dir / logfile.name)
                for logfile in sorted(tmp.glob("*.log")):
                    tail = logfile.read_bytes()[-2000:].decode(errors="replace")
                    if "Traceback" in tail or "ERROR" in tail or "CRITICAL" in tail:
                        log(f"tail of {logfile.name}:\n{tail}")
    except KeyboardInterrupt:
        log("interrupted: stopping everything")
        exit_code = 130
    except Exception as exc:
        log(f"failed: {type(exc).__name__}: {exc}")
        results["error"] = f"{type(exc).__name__}: {exc}"
        exit_code = 1
    finally:
        if bench is not None:
            bench.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)

    results["summary"] = summarize(results)
    results["load_average_at_end"] = list(os.getloadavg())
    results["finished_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    results["duration_s"] = round(time.monotonic() - started, 1)
    if not args.no_plot and ("burst" in results or "sustained" in results):
        try:
            from bench.push_plot import draw

            png = out_path.with_suffix(".png")
            draw(results, png)
            results["plot"] = str(png.relative_to(ROOT) if png.is_relative_to(ROOT) else png)
        except ImportError as exc:
            results["plot"] = f"not drawn: {exc} (pip install -r bench/requirements.txt)"
    document = json.dumps(results, indent=2)
    out_path.write_text(document + "\n")
    print(document)
    log(f"wrote {out_path} in {results['duration_s']} s: {json.dumps(results['summary'])}")
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
