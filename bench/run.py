"""imcloud benchmark: one command, real stack, real protocol, JSON out and a PNG plot.

    .venv/bin/python bench/run.py --quick          # smoke run, about two minutes
    .venv/bin/python bench/run.py                  # full run (20,000 connections, 10,000-member team)

It creates a throwaway PostgreSQL database, migrates it, creates an app (``manage.py create_app``),
provisions users and teams (bench/provision.py), flushes a dedicated Redis database, starts N
daphne processes, and drives them from load-generator processes (bench/loadgen.py). Then it runs
the same client scenarios against the baseline, a bare ``websockets`` relay (bench/relay.py), on
the same box. Scenarios:

1. idle:  log in as many connections as the target and hold them: server RSS per connection,
          CPU while idle, login rate.
2. p2p:   pairs of clients on different processes, open-loop sends at fixed offered loads;
          latency is measured at the receiver from the send time stamped into the message text;
          persisted throughput is counted by SendAcks (ours).
3. team:  all members of a team online (spread over processes), messages posted at fixed rates;
          deliveries/s and delivery latency for two team sizes.

Everything talks to 127.0.0.1; every loop is bounded; every child is stopped at the end (also on
Ctrl-C and errors) and the bench database is dropped. docs/performance.md explains the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import functools
import json
import math
import multiprocessing as mp
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from array import array
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from importlib import metadata
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from apps.protocol import imcloud_pb2 as pb
from bench import stack
from bench.loadgen import worker_main

ROOT = stack.ROOT
ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"
REDIS_DB = 12
SERVICE_VARS = ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE")
MAX_SENDS_PER_CONNECTION = 50  # well under the gateway's per-connection frame rate limit (100/s)

TARGETS = {
    "idle_connections": 20_000,
    "p2p_msgs_per_s_p99_under_50ms": 5_000,
    "team_deliveries_per_s": 100_000,
    "ratio_to_baseline": 0.5,
}


@dataclass
class Scale:
    idle_connections: int
    idle_hold_s: float
    pairs: int
    p2p_rates: list[int]
    team_sizes: list[int]
    team_rates: dict[int, list[float]]
    step_s: float
    drain_s: float
    drain_max_s: float
    loadgen_procs: int
    p2p_placement: str = "cross"  # receiver on the next process ("cross") or the sender's ("same")


FULL = Scale(
    idle_connections=20_000,
    idle_hold_s=30,
    pairs=500,
    p2p_rates=[100, 250, 500, 1_000, 2_000, 3_000, 4_000, 5_000, 10_000, 20_000],
    team_sizes=[1_000, 10_000],
    # Finer steps around the 100,000 deliveries/s target.
    team_rates={1_000: [1, 2, 5, 10, 20, 50, 100, 120, 150, 200], 10_000: [0.5, 1, 2, 5, 10, 12, 15, 20]},
    step_s=10,
    drain_s=5,
    drain_max_s=90,
    loadgen_procs=4,
)
QUICK = Scale(
    idle_connections=2_000,
    idle_hold_s=5,
    pairs=100,
    p2p_rates=[100, 500, 2_500],
    team_sizes=[200, 1_000],
    team_rates={200: [10, 50, 250], 1_000: [2, 10, 50]},
    step_s=3,
    drain_s=3,
    drain_max_s=20,
    loadgen_procs=2,
)


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- load-generator pool --------------------------------------------------------------------------


class Pool:
    """Load-generator processes, each an event loop full of clients, commanded over pipes."""

    def __init__(self, size: int) -> None:
        ctx = mp.get_context("fork")
        self.conns: list[Connection] = []
        self.procs: list[Any] = []
        for index in range(size):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=worker_main, args=(child, index), daemon=True, name=f"loadgen-{index}")
            proc.start()
            child.close()
            self.conns.append(parent)
            self.procs.append(proc)

    @property
    def size(self) -> int:
        return len(self.conns)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def call(self, op: str, per_worker: list[dict[str, Any]], timeout: float) -> list[dict[str, Any]]:
        for conn, kwargs in zip(self.conns, per_worker, strict=True):
            conn.send((op, kwargs))
        deadline = time.monotonic() + timeout
        results = []
        for index, conn in enumerate(self.conns):
            if not conn.poll(max(0.0, deadline - time.monotonic())):
                raise TimeoutError(f"load generator {index} did not answer {op} within {timeout:.0f} s")
            result = conn.recv()
            if "exception" in result:
                raise RuntimeError(f"load generator {index} failed {op}: {result['exception']}")
            results.append(result)
        return results

    def call_all(self, op: str, kwargs: dict[str, Any], timeout: float) -> list[dict[str, Any]]:
        return self.call(op, [kwargs] * self.size, timeout)

    def close(self) -> None:
        for conn in self.conns:
            with contextlib.suppress(Exception):
                conn.send(("exit", {}))
        deadline = time.monotonic() + 5
        for proc in self.procs:
            proc.join(max(0.1, deadline - time.monotonic()))
            if proc.is_alive():
                proc.kill()
                proc.join(2)


# --- statistics -----------------------------------------------------------------------------------


def percentiles(values: array[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "p99": None, "p999": None, "max": None, "mean": None}
    ordered = sorted(values)
    n = len(ordered)

    def at(q: float) -> float:
        return round(ordered[min(n - 1, math.ceil(q * n) - 1)], 2)

    return {
        "p50": at(0.50),
        "p95": at(0.95),
        "p99": at(0.99),
        "p999": at(0.999),
        "max": round(ordered[-1], 2),
        "mean": round(sum(ordered) / n, 2),
    }


# --- the system under test ------------------------------------------------------------------------


@dataclass
class Target:
    name: str
    endpoints: list[tuple[str, int]]
    server_pids: list[int]
    acks: bool
    extra_groups: dict[str, list[int]] = field(default_factory=dict)
    redis_url: str = ""
    database: str = ""

    def cpu_groups(self, pool: Pool) -> dict[str, stack.Pids]:
        groups: dict[str, stack.Pids] = {f"server_{i}_pct": [pid] for i, pid in enumerate(self.server_pids)}
        groups["servers_total_pct"] = list(self.server_pids)
        groups["loadgen_total_pct"] = pool.pids
        if self.database:
            # Listed again at the end of each window: backends reopened meanwhile count too.
            groups["postgres_pct"] = functools.partial(postgres_pids, self.database)
        if self.redis_url:
            groups["redis_server_pct"] = stack.pids_named("redis-server")
        return groups


def postgres_pids(database: str) -> list[int]:
    import psycopg

    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s OR backend_type IN "
            "('walwriter', 'checkpointer', 'background writer', 'autovacuum launcher')",
            [database],
        ).fetchall()
    return [int(r[0]) for r in rows]


def redis_used_memory(url: str) -> int:
    import redis

    return int(redis.Redis.from_url(url).info("memory")["used_memory"])


# --- scenarios ------------------------------------------------------------------------------------


class Bench:
    def __init__(self, pool: Pool, scale: Scale, app_key: str, token: str, accid_format: str) -> None:
        self.pool, self.scale = pool, scale
        self.app_key, self.token, self.accid_format = app_key, token, accid_format
        self.next_step = 1
        self.profile_dir: Path | None = None
        self.profile_mode = "gil"

    def accid(self, index: int) -> str:
        return self.accid_format.format(index)

    def _spread(self, users: list[tuple[str, int]]) -> list[list[tuple[str, int]]]:
        """User i goes to load generator i mod W, so both ends of a pair sit in different ones."""
        per: list[list[tuple[str, int]]] = [[] for _ in range(self.pool.size)]
        for index, user in enumerate(users):
            per[index % self.pool.size].append(user)
        return per

    def connect(self, target: Target, users: list[tuple[str, int]]) -> dict[str, Any]:
        per = self._spread(users)
        timeout = 60 + len(users) / 50
        concurrency = max(10, 200 // self.pool.size)
        started = time.monotonic()
        results = self.pool.call(
            "connect",
            [
                {
                    "users": mine,
                    "endpoints": target.endpoints,
                    "app_key": self.app_key,
                    "token": self.token,
                    "concurrency": concurrency,
                    "timeout": timeout,
                }
                for mine in per
            ],
            timeout + 30,
        )
        seconds = time.monotonic() - started
        connected = sum(r["connected"] for r in results)
        failures: dict[str, int] = {}
        for r in results:
            for why, n in r["failures"].items():
                failures[why] = failures.get(why, 0) + n
        return {
            "wanted": len(users),
            "connected": connected,
            "failures": failures,
            "seconds": round(seconds, 2),
            "logins_per_s": round(connected / max(seconds, 1e-6), 1),
        }

    def close_all(self, target: Target) -> dict[str, Any]:
        results = self.pool.call_all("close_all", {"timeout": 20}, 60)
        return {
            "closed": sum(r["closed"] for r in results),
            "aborted": sum(r["aborted"] for r in results),
            "server_settle_s": self.settle(target),
        }

    def settle(self, target: Target, limit: float = 120, quiet_pct: float = 30) -> float:
        """Wait (bounded) until the servers are quiet, e.g. done closing 20,000 sessions, so that
        one scenario's leftovers do not land in the next one's figures. Returns the seconds waited."""
        started = time.monotonic()
        while time.monotonic() - started < limit:
            window = stack.CpuWindow({"servers": target.server_pids})
            window.start()
            time.sleep(1)
            if window.read()["servers"] < quiet_pct:
                break
        return round(time.monotonic() - started, 1)

    # --- one measured step --------------------------------------------------------------------------

    def step(
        self,
        target: Target,
        *,
        rate: float,
        senders: list[tuple[str, str]],
        sender_worker: dict[str, int],
        conversation_type: int,
        fanout: int,
        duration: float,
        label: str,
        measure: bool = True,
    ) -> dict[str, Any]:
        step = self.next_step
        self.next_step += 1
        mine: list[list[tuple[str, str]]] = [[] for _ in range(self.pool.size)]
        for accid, dest in senders:
            mine[sender_worker[accid]].append((accid, dest))
        start_at = time.time() + 0.5
        profiler = None
        if measure and self.profile_dir is not None and target.name == "ours":
            profiler = self._profile(target, label, duration)
        for conn, senders_here in zip(self.pool.conns, mine, strict=True):
            conn.send(
                (
                    "run",
                    {
                        "step": step,
                        "start_at": start_at,
                        "duration": duration,
                        "rate": rate * len(senders_here) / max(1, len(senders)),
                        "senders": senders_here,
                        "conversation_type": conversation_type,
                    },
                )
            )
        time.sleep(max(0.0, start_at - time.time()))
        cpu = stack.CpuWindow(target.cpu_groups(self.pool))
        cpu.start()
        time.sleep(duration)
        cpu_pct = cpu.read()
        runs = self._wait_runs(duration)
        sent = sum(r["sent"] for r in runs)
        expected = sent * fanout
        # Drain: wait for every delivery (and ack) while they keep coming; give up after drain_s
        # without progress or drain_max_s in all. Late arrivals count in the latency figures.
        drain_started = last_progress = time.monotonic()
        seen = -1
        while True:
            counts = self.pool.call_all("counts", {"step": step}, 30)
            received = sum(c["received"] for c in counts)
            acks = sum(c["acks"] for c in counts)
            if received >= expected and (acks >= sent or not target.acks):
                break
            now = time.monotonic()
            if received + acks > seen:
                seen, last_progress = received + acks, now
            if now - last_progress > self.scale.drain_s or now - drain_started > self.scale.drain_max_s:
                break
            time.sleep(0.2)
        drain_s = time.monotonic() - drain_started
        collected = self.pool.call_all("collect", {"step": step}, 60)
        if profiler is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                profiler.wait(timeout=duration + 10)
        if not measure:
            return {"sent": sent, "received": received, "expected": expected}
        latencies: array[float] = array("f")
        ack_latencies: array[float] = array("f")
        errors: dict[str, int] = {}
        in_window = acks_in_window = duplicates = 0
        for c in collected:
            latencies.frombytes(c["latencies"])
            ack_latencies.frombytes(c["ack_latencies"])
            in_window += c["in_window"]
            acks_in_window += c["acks_in_window"]
            duplicates += c["duplicates"]
            for code, n in c["errors"].items():
                errors[code] = errors.get(code, 0) + n
        received = len(latencies)
        lat = percentiles(latencies)
        result: dict[str, Any] = {
            "offered_msgs_per_s": rate,
            "offered_deliveries_per_s": rate * fanout,
            "seconds": duration,
            "sent": sent,
            "sent_per_s": round(sent / duration, 1),
            "senders": len(senders),
            "fanout": fanout,
            "expected_deliveries": expected,
            "received": received,
            "undelivered": max(0, expected - received),
            "delivered_per_s_in_window": round(in_window / duration, 1),
            "delivered_per_s_overall": round(received / (duration + drain_s), 1),
            "drain_s": round(drain_s, 2),
            "latency_ms": lat,
            "errors": errors,
            "cpu_pct_of_one_core": cpu_pct,
        }
        if target.acks:
            result["acks"] = len(ack_latencies)
            result["acked_per_s_in_window"] = round(acks_in_window / duration, 1)
            result["ack_latency_ms"] = percentiles(ack_latencies)
            result["duplicate_acks"] = duplicates
        p99 = lat["p99"]
        result["lagging"] = in_window < 0.9 * expected
        result["generator_kept_up"] = sent >= 0.95 * rate * duration
        result["meets_p99_50ms"] = bool(
            p99 is not None and p99 < 50 and result["undelivered"] == 0 and not result["lagging"]
        )
        result["sustained"] = bool(
            p99 is not None
            and p99 < 1000
            and result["undelivered"] <= 0.001 * expected
            and not result["lagging"]
        )
        log(
            f"{target.name} {label}: offered {rate:g}/s x{fanout} -> delivered "
            f"{result['delivered_per_s_in_window']:.0f}/s in window, undelivered {result['undelivered']}, "
            f"p50 {lat['p50']} p99 {lat['p99']} ms"
            + (f", acked {result['acked_per_s_in_window']:.0f}/s" if target.acks else "")
            + (f", errors {errors}" if errors else "")
            + f"; cpu {cpu_pct}"
        )
        return result

    def _wait_runs(self, duration: float) -> list[dict[str, Any]]:
        deadline = time.monotonic() + duration + 30
        out = []
        for index, conn in enumerate(self.pool.conns):
            if not conn.poll(max(0.0, deadline - time.monotonic())):
                raise TimeoutError(f"load generator {index} did not finish its sends")
            result = conn.recv()
            if "exception" in result:
                raise RuntimeError(f"load generator {index} failed run: {result['exception']}")
            out.append(result)
        return out

    def _profile(self, target: Target, label: str, duration: float) -> subprocess.Popen[bytes] | None:
        py_spy = shutil.which("py-spy") or str(stack.BIN / "py-spy")
        if not Path(py_spy).exists() or self.profile_dir is None:
            return None
        out = self.profile_dir / f"{label.replace(' ', '_').replace('/', '_')}.txt"
        mode = ["--gil"] if self.profile_mode == "gil" else ["--idle"]
        return subprocess.Popen(  # noqa: S603 - py-spy on our own child process
            [py_spy, "record", "--pid", str(target.server_pids[0]), "--duration", str(int(duration)),
             "--rate", "200", "--format", "raw", "--nonblocking", *mode, "--output", str(out)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip

    # --- scenarios ----------------------------------------------------------------------------------

    def idle(self, target: Target) -> dict[str, Any]:
        n, gws = self.scale.idle_connections, len(target.endpoints)
        users = [(self.accid(i), i % gws) for i in range(n)]
        time.sleep(1)
        rss_before = [stack.rss_kib(p) for p in target.server_pids]
        loadgen_before = sum(stack.rss_kib(p) for p in self.pool.pids)
        redis_before = redis_used_memory(target.redis_url) if target.redis_url else 0
        log(f"{target.name} idle: logging in {n} connections over {gws} processes")
        profiler = (
            self._profile(target, "idle logins", 10) if self.profile_dir and target.name == "ours" else None
        )
        connected = self.connect(target, users)
        if profiler is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                profiler.wait(timeout=20)
        log(f"{target.name} idle: {connected}")
        connected["server_settle_s"] = self.settle(target)
        rss_after = [stack.rss_kib(p) for p in target.server_pids]
        profiler = None
        if self.profile_dir and target.name == "ours":
            profiler = self._profile(target, "idle hold", self.scale.idle_hold_s)
        with stack.CpuWindow(target.cpu_groups(self.pool)) as cpu:
            time.sleep(self.scale.idle_hold_s)
            idle_cpu = cpu.read()
        if profiler is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                profiler.wait(timeout=20)
        status = self.pool.call_all("status", {}, 30)
        still_open = sum(s["open"] for s in status)
        rss_end = [stack.rss_kib(p) for p in target.server_pids]
        redis_after = redis_used_memory(target.redis_url) if target.redis_url else 0
        loadgen_after = sum(stack.rss_kib(p) for p in self.pool.pids)
        held = connected["connected"]
        delta = sum(rss_after) - sum(rss_before)
        result = {
            "connections_wanted": n,
            "connect": connected,
            "connections_held": still_open,
            "hold_s": self.scale.idle_hold_s,
            "server_rss_kib_before": rss_before,
            "server_rss_kib_after": rss_after,
            "server_rss_kib_end_of_hold": rss_end,
            "server_kib_per_connection": round(delta / held, 2) if held else None,
            "redis_bytes_per_connection": round((redis_after - redis_before) / held, 1) if held else None,
            "loadgen_kib_per_connection": round((loadgen_after - loadgen_before) / held, 2) if held else None,
            "idle_cpu_pct_of_one_core": idle_cpu,
            "client_side": status,
        }
        log(
            f"{target.name} idle: held {still_open}/{n}, {result['server_kib_per_connection']} KiB/conn, "
            f"cpu {idle_cpu}"
        )
        result["close"] = self.close_all(target)
        return result

    def p2p(self, target: Target) -> dict[str, Any]:
        gws = len(target.endpoints)
        pairs = self.scale.pairs
        users: list[tuple[str, int]] = []
        senders: list[tuple[str, str]] = []
        for k in range(pairs):
            a, b = self.accid(2 * k), self.accid(2 * k + 1)
            other = (k + 1) % gws if self.scale.p2p_placement == "cross" else k % gws
            users += [(a, k % gws), (b, other)]
            senders.append((a, b))
        sender_worker = {accid: (2 * k) % self.pool.size for k, (accid, _) in enumerate(senders)}
        log(f"{target.name} p2p: {pairs} pairs, placement {self.scale.p2p_placement}")
        connected = self.connect(target, users)
        connected["server_settle_s"] = self.settle(target)
        result: dict[str, Any] = {
            "pairs": pairs,
            "placement": self.scale.p2p_placement,
            "connect": connected,
            "steps": [],
        }
        common = {
            "senders": senders,
            "sender_worker": sender_worker,
            "conversation_type": pb.CONVERSATION_TYPE_P2P,
            "fanout": 1,
        }
        # Warm-up: one message per pair creates the conversations (ours) and warms every path.
        result["warmup"] = self.step(
            target, rate=pairs, duration=1.0, label="p2p warmup", measure=False, **common
        )
        if target.database:
            analyze(target.database)  # the conversations the warm-up created
        slow_in_a_row = 0
        for rate in self.scale.p2p_rates:
            outcome = self.step(target, rate=rate, duration=self.scale.step_s, label=f"p2p {rate}", **common)
            result["steps"].append(outcome)
            slow_in_a_row = slow_in_a_row + 1 if _slow(outcome) else 0
            if _overloaded(outcome) or slow_in_a_row >= 2:
                break
        result["close"] = self.close_all(target)
        return result

    def team(self, target: Target, teams: dict[str, str]) -> dict[str, Any]:
        gws = len(target.endpoints)
        biggest = max(self.scale.team_sizes)
        users = [(self.accid(i), i % gws) for i in range(biggest)]
        log(f"{target.name} team: logging in {biggest} members")
        connected = self.connect(target, users)
        connected["server_settle_s"] = self.settle(target)
        result: dict[str, Any] = {"connect": connected, "sizes": {}}
        for size in self.scale.team_sizes:
            team_id = teams[str(size)]
            rates = self.scale.team_rates[size]
            n_senders = max(gws, math.ceil(max(rates) / MAX_SENDS_PER_CONNECTION))
            all_senders = [(self.accid(i), team_id) for i in range(n_senders)]
            sender_worker = {accid: i % self.pool.size for i, (accid, _) in enumerate(all_senders)}
            common = {
                "sender_worker": sender_worker,
                "conversation_type": pb.CONVERSATION_TYPE_TEAM,
                "fanout": size - 1,
            }
            one = {"members": size, "team_id": team_id, "steps": []}
            one["warmup"] = self.step(
                target, rate=gws, senders=all_senders[:gws], duration=1.0, label=f"team {size} warmup",
                measure=False, **common,
            )  # fmt: skip
            slow_in_a_row = 0
            for rate in rates:
                # At least one sender per server process (members i sit on process i mod N), more
                # when the rate needs them to stay under the per-connection frame rate limit.
                senders = all_senders[: max(gws, math.ceil(rate / MAX_SENDS_PER_CONNECTION))]
                outcome = self.step(
                    target, rate=rate, senders=senders, duration=self.scale.step_s,
                    label=f"team {size} {rate:g}", **common,
                )  # fmt: skip
                one["steps"].append(outcome)
                slow_in_a_row = slow_in_a_row + 1 if _slow(outcome) else 0
                if _overloaded(outcome) or slow_in_a_row >= 2:
                    break
            result["sizes"][str(size)] = one
        result["close"] = self.close_all(target)
        return result


def _slow(outcome: dict[str, Any]) -> bool:
    p99 = outcome["latency_ms"]["p99"]
    return p99 is None or p99 >= 1000


def _overloaded(outcome: dict[str, Any]) -> bool:
    """Stop escalating: deliveries lag the offered load, some never arrived, or the generator itself
    could not send at the offered rate. (A p99 over 1 s stops escalation when it happens twice in a
    row: one slow message to a big team is a large share of a short step's samples.)"""
    return bool(
        outcome["lagging"]
        or outcome["undelivered"] > 0.001 * outcome["expected_deliveries"]
        or not outcome["generator_kept_up"]
    )


# --- summary --------------------------------------------------------------------------------------


def summarize(side: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "idle" in side:
        idle = side["idle"]
        out["idle_connections_held"] = idle["connections_held"]
        out["idle_kib_per_connection"] = idle["server_kib_per_connection"]
        out["idle_cpu_pct_servers"] = idle["idle_cpu_pct_of_one_core"].get("servers_total_pct")
        out["logins_per_s"] = idle["connect"]["logins_per_s"]
    if "p2p" in side:
        steps = side["p2p"]["steps"]
        ok = [s for s in steps if s["meets_p99_50ms"]]
        out["p2p_msgs_per_s_p99_under_50ms"] = max((s["delivered_per_s_in_window"] for s in ok), default=0)
        out["p2p_offered_p99_under_50ms"] = max((s["offered_msgs_per_s"] for s in ok), default=0)
        out["p2p_max_delivered_per_s"] = max((s["delivered_per_s_in_window"] for s in steps), default=0)
        sustained = [s for s in steps if s["sustained"]]
        out["p2p_max_sustained_per_s"] = max((s["delivered_per_s_in_window"] for s in sustained), default=0)
        if steps and "acked_per_s_in_window" in steps[0]:
            out["p2p_max_acked_per_s"] = max(s["acked_per_s_in_window"] for s in steps)
    if "team" in side:
        for size, one in side["team"]["sizes"].items():
            steps = one["steps"]
            sustained = [s for s in steps if s["sustained"]]
            ok = [s for s in steps if s["meets_p99_50ms"]]
            best = max(sustained, key=lambda s: s["delivered_per_s_in_window"], default=None)
            out[f"team_{size}_max_sustained_deliveries_per_s"] = (
                best["delivered_per_s_in_window"] if best else 0
            )
            out[f"team_{size}_p99_ms_at_max_sustained"] = best["latency_ms"]["p99"] if best else None
            out[f"team_{size}_deliveries_per_s_p99_under_50ms"] = max(
                (s["delivered_per_s_in_window"] for s in ok), default=0
            )
            out[f"team_{size}_max_delivered_per_s"] = max(
                (s["delivered_per_s_in_window"] for s in steps), default=0
            )
    return out


def ratios(ours: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    """ours / baseline for throughput-like figures; baseline / ours for memory (higher is better)."""
    out: dict[str, Any] = {}
    for key, value in ours.items():
        other = base.get(key)
        if not isinstance(value, int | float) or not isinstance(other, int | float) or not other:
            continue
        if key.endswith("kib_per_connection"):
            out[f"{key} (baseline/ours)"] = round(other / value, 3) if value else None
        elif key.startswith("idle_cpu") or "p99_ms" in key:
            continue
        else:
            out[key] = round(value / other, 3)
    return out


def verdicts(ours: dict[str, Any], ratio: dict[str, Any], scale: Scale) -> dict[str, Any]:
    team_keys = [k for k in ours if k.startswith("team_") and k.endswith("max_sustained_deliveries_per_s")]
    best_team = max((ours[k] for k in team_keys), default=0)
    out = {
        "idle_connections": {
            "target": TARGETS["idle_connections"],
            "measured": ours.get("idle_connections_held"),
            "met": (ours.get("idle_connections_held") or 0) >= TARGETS["idle_connections"],
        },
        "p2p_msgs_per_s_p99_under_50ms": {
            "target": TARGETS["p2p_msgs_per_s_p99_under_50ms"],
            "measured": ours.get("p2p_msgs_per_s_p99_under_50ms"),
            "met": (ours.get("p2p_msgs_per_s_p99_under_50ms") or 0)
            >= TARGETS["p2p_msgs_per_s_p99_under_50ms"],
        },
        "team_deliveries_per_s": {
            "target": TARGETS["team_deliveries_per_s"],
            "measured": best_team,
            "met": best_team >= TARGETS["team_deliveries_per_s"],
        },
        "ratios_at_least_0.5": {
            key: {"ratio": value, "met": value is not None and value >= TARGETS["ratio_to_baseline"]}
            for key, value in ratio.items()
        },
    }
    if scale.idle_connections < TARGETS["idle_connections"]:
        out["note"] = "quick mode: scaled-down loads, the targets apply to the full run"
    return out


# --- setup and teardown ---------------------------------------------------------------------------


def base_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SERVICE_VARS}
    env.update(
        DJANGO_SETTINGS_MODULE="imcloud.settings",
        IMCLOUD_DATA_DIR=str(data_dir),
        IMCLOUD_SECRET_KEY="bench-secret-not-for-production",  # noqa: S106 - throwaway stack
        IMCLOUD_LOG_FORMAT="json",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in ("Django", "channels", "channels-redis", "daphne", "Twisted", "autobahn", "websockets",
                 "uvicorn", "h11", "protobuf", "psycopg", "redis", "asgiref", "uvloop"):  # fmt: skip
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[name] = metadata.version(name)
    with contextlib.suppress(Exception):
        import psycopg

        with psycopg.connect(ADMIN_URL) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            out["postgresql"] = str(row[0]) if row else "?"
    with contextlib.suppress(Exception):
        import redis

        out["redis_server"] = str(redis.Redis(host="127.0.0.1").info("server")["redis_version"])
    return out


def machine() -> dict[str, Any]:
    meminfo = Path("/proc/meminfo").read_text().split("\n")
    total_kib = int(next(line for line in meminfo if line.startswith("MemTotal")).split()[1])
    model = ""
    with contextlib.suppress(OSError, StopIteration):
        model = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    import resource

    window = stack.CpuWindow({})
    window.start()
    time.sleep(1)
    background = window.read()["machine_busy_pct_of_all_cores"]
    # Single-core speed, to compare runs across machines: a bare 10M-iteration Python loop.
    loop_started = time.perf_counter()
    total = 0
    for i in range(10_000_000):
        total += i
    loop_s = time.perf_counter() - loop_started
    return {
        "nproc": os.cpu_count(),
        "python_loop_10m_s": round(loop_s, 3),
        "cpu_model": model,
        "memory_mib": total_kib // 1024,
        "kernel": platform.release(),
        "open_files_limit": resource.getrlimit(resource.RLIMIT_NOFILE)[0],
        "busy_pct_before_start": background,
    }


def porcelain_paths(output: str) -> list[str]:
    """The paths of ``git status --porcelain`` (v1) output; a rename gives its new path."""
    paths = []
    for line in output.splitlines():
        if len(line) > 3:
            path = line[3:]
            paths.append(path.split(" -> ", 1)[-1])
    return paths


def git_state(source: Path) -> dict[str, Any]:
    def git(*args: str) -> str:
        command = ["git", *args]
        done = subprocess.run(  # noqa: S603 - read-only git queries
            command, cwd=ROOT, capture_output=True, text=True, timeout=10, check=False
        )
        return done.stdout

    state: dict[str, Any] = {"checkout_commit": git("rev-parse", "HEAD").strip(), "source": str(source)}
    if source == ROOT:
        # Porcelain lines are "XY PATH": the status columns may be spaces, so never strip before slicing.
        dirty = porcelain_paths(git("status", "--porcelain"))
        state["uncommitted_paths_outside_bench"] = [p for p in dirty if not p.startswith("bench/")]
    elif (source / "BENCH_SOURCE").exists():
        state["source_note"] = (source / "BENCH_SOURCE").read_text().strip()
    return state


@contextlib.contextmanager
def bench_database() -> Iterator[str]:
    import psycopg

    name = f"imcloud_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        log(f"dropped database {name}")


def analyze(dbname: str) -> None:
    import psycopg

    with psycopg.connect(ADMIN_URL.rsplit("/", 1)[0] + f"/{dbname}", autocommit=True) as conn:
        conn.execute("ANALYZE")


def flush_redis(url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()


SERVERS = ("daphne", "uvicorn")


@contextlib.contextmanager
def gateways(env: dict[str, str], count: int, logs: Path, source: Path, server: str) -> Iterator[Target]:
    ports = [stack.free_port() for _ in range(count)]
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for i, port in enumerate(ports):
            command = stack.server_command(server, port, source)
            procs.append(stack.spawn(command, env=env, log=logs / f"{server}-{i}.log", cwd=source))
        for port in ports:
            stack.wait_http(f"http://127.0.0.1:{port}/healthz", procs)
        yield Target(
            name="ours",
            endpoints=[("127.0.0.1", p) for p in ports],
            server_pids=[p.pid for p in procs],
            acks=True,
            redis_url=env["REDIS_URL"],
            database=env["DATABASE_URL"].rsplit("/", 1)[1],
        )
    finally:
        stack.stop(procs)


@contextlib.contextmanager
def relays(env: dict[str, str], count: int, teams_file: Path, logs: Path) -> Iterator[Target]:
    ports = [stack.free_port() for _ in range(count)]
    peer_ports = [stack.free_port() for _ in range(count)]
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for i, port in enumerate(ports):
            others = ",".join(str(p) for j, p in enumerate(peer_ports) if j != i)
            command = [sys.executable, str(ROOT / "bench" / "relay.py"), "--port", str(port),
                       "--peer-port", str(peer_ports[i]), "--peers", others,
                       "--teams", str(teams_file)]  # fmt: skip
            procs.append(stack.spawn(command, env=env, log=logs / f"relay-{i}.log"))
        for port in ports:
            stack.wait_port(port, procs)
        yield Target(
            name="baseline",
            endpoints=[("127.0.0.1", p) for p in ports],
            server_pids=[p.pid for p in procs],
            acks=False,
        )
    finally:
        stack.stop(procs)


def run_side(bench: Bench, target: Target, scenarios: list[str], teams: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {"processes": len(target.server_pids)}
    if "idle" in scenarios:
        out["idle"] = bench.idle(target)
    if "p2p" in scenarios:
        out["p2p"] = bench.p2p(target)
    if "team" in scenarios:
        out["team"] = bench.team(target, teams)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small smoke run (about two minutes)")
    parser.add_argument("--gateways", type=int, default=2, help="gateway (and relay) processes, default 2")
    parser.add_argument(
        "--server", choices=SERVERS, default="daphne", help="the gateways' ASGI server (default daphne)"
    )
    parser.add_argument("--loadgen", type=int, help="load-generator processes (default 4, quick 2)")
    parser.add_argument("--out", type=Path, help="JSON output (default bench/results/<timestamp>.json)")
    parser.add_argument(
        "--scenarios", default="idle,p2p,team", help="comma-separated subset of idle,p2p,team"
    )
    parser.add_argument("--no-baseline", action="store_true", help="skip the bare relay")
    parser.add_argument("--no-ours", action="store_true", help="run the baseline only")
    parser.add_argument("--idle-connections", type=int, help="override the idle scenario's connection count")
    parser.add_argument("--p2p-rates", help="override the offered one-to-one loads, e.g. 500,1000")
    parser.add_argument("--step-seconds", type=float, help="override the length of each measured step")
    parser.add_argument(
        "--team-sizes", help="override the team sizes, e.g. 10000 (rates: the full run's ladder)"
    )
    parser.add_argument(
        "--p2p-placement",
        choices=["cross", "same"],
        default="cross",
        help="one-to-one partners on different server processes (default) or on the same one",
    )
    parser.add_argument(
        "--db-conn-max-age", help="IMCLOUD_DB_CONN_MAX_AGE for the gateways (default: the project's default)"
    )
    parser.add_argument("--log-level", default="INFO", help="IMCLOUD_LOG_LEVEL for the gateways")
    parser.add_argument(
        "--profile",
        choices=["gil", "wall"],
        help="py-spy gateway 0 in every measured step: 'gil' samples only threads holding the GIL (CPU), "
        "'wall' every thread (waiting included); collapsed stacks go next to the JSON",
    )
    parser.add_argument("--no-plot", action="store_true")
    parser.add_argument("--keep-logs", action="store_true", help="copy the server logs next to the JSON")
    parser.add_argument(
        "--source",
        type=Path,
        default=ROOT,
        help="server code to run (default: this checkout), e.g. a `git archive HEAD | tar -x -C DIR` export",
    )
    args = parser.parse_args()

    scale = dataclasses.replace(QUICK if args.quick else FULL)
    if args.loadgen:
        scale.loadgen_procs = args.loadgen
    if args.idle_connections:
        scale.idle_connections = args.idle_connections
    if args.p2p_rates:
        scale.p2p_rates = [int(r) for r in args.p2p_rates.split(",")]
    if args.step_seconds:
        scale.step_s = args.step_seconds
    if args.team_sizes:
        scale.team_sizes = [int(n) for n in args.team_sizes.split(",")]
        ladders = {**FULL.team_rates, **QUICK.team_rates}
        scale.team_rates = {n: ladders.get(n, [1, 2, 5, 10]) for n in scale.team_sizes}
    scale.p2p_placement = args.p2p_placement
    scenarios = [s for s in args.scenarios.split(",") if s]
    source: Path = args.source.resolve()
    if not (source / "manage.py").exists():
        parser.error(f"--source {source} has no manage.py")
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    suffix = f"-{args.server}" + ("-quick" if args.quick else "")
    out_path: Path = args.out or ROOT / "bench" / "results" / f"{stamp}{suffix}.json"
    out_path.parent.mkdir(parents=True, exist_ok=True)

    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with SIGINT ignored
    started = time.monotonic()
    results: dict[str, Any] = {
        "benchmark": "imcloud gateway vs bare websockets relay",
        "mode": "quick" if args.quick else "full",
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    users_needed = max(scale.idle_connections, max(scale.team_sizes), 2 * scale.pairs)
    results["parameters"] = {
        **asdict(scale),
        "gateways": args.gateways,
        "server": args.server,
        "scenarios": scenarios,
        "users": users_needed,
        "db_conn_max_age": args.db_conn_max_age or "project default",
        "gateway_log_level": args.log_level,
        "redis_db": REDIS_DB,
        "max_sends_per_connection_per_s": MAX_SENDS_PER_CONNECTION,
        "client": "bench/loadgen.py (asyncio Protocol, RFC 6455, imcloud.v1.proto)",
        "source": str(source),
    }
    results["machine"] = machine()
    results["versions"] = versions()
    results["git"] = git_state(source)
    log(f"{results['mode']} run: {results['parameters']}")

    pool = Pool(scale.loadgen_procs)  # forked first, before any thread or connection exists
    tmp = Path(tempfile.mkdtemp(prefix="imcloud-bench-"))
    exit_code = 0
    try:
        with bench_database() as dbname:
            redis_url = f"redis://127.0.0.1:6379/{REDIS_DB}"
            env = base_env(
                tmp,
                DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{dbname}",
                REDIS_URL=redis_url,
                CELERY_BROKER_URL=redis_url,
                IMCLOUD_LOG_LEVEL=args.log_level,
                IMCLOUD_BENCH_SOURCE=str(source),
            )
            if args.db_conn_max_age is not None:
                env["IMCLOUD_DB_CONN_MAX_AGE"] = args.db_conn_max_age
            flush_redis(redis_url)
            try:
                t0 = time.monotonic()
                migrate = [sys.executable, "manage.py", "migrate", "--noinput"]
                stack.run(migrate, env=env, timeout=300, cwd=source)
                create_app = [sys.executable, "manage.py", "create_app", "--owner-email", "bench@example.com",
                              "--name", "bench"]  # fmt: skip
                keys = json.loads(stack.run(create_app, env=env, timeout=120, cwd=source))
                sizes = ",".join(map(str, scale.team_sizes))
                provision = [sys.executable, str(ROOT / "bench" / "provision.py"), "--app-key",
                             keys["app_key"], "--users", str(users_needed), "--teams", sizes]  # fmt: skip
                provisioned = json.loads(stack.run(provision, env=env, timeout=600, cwd=source))
                # A production database has planner statistics (autovacuum keeps them); a freshly
                # loaded one has none until autovacuum's next round, and the planner's guesses
                # for empty tables pick poor plans for the send path's joins.
                analyze(dbname)
                results["setup"] = {**provisioned, "seconds": round(time.monotonic() - t0, 1)}
                log(f"setup: {results['setup']}")
                teams: dict[str, str] = provisioned["teams"]
                teams_file = tmp / "teams.json"
                teams_file.write_text(
                    json.dumps(
                        {
                            team_id: [provisioned["accid_format"].format(i) for i in range(int(size))]
                            for size, team_id in teams.items()
                        }
                    )
                )
                bench = Bench(pool, scale, keys["app_key"], provisioned["token"], provisioned["accid_format"])
                if args.profile:
                    bench.profile_mode = args.profile
                    bench.profile_dir = out_path.with_suffix("") / "profiles"
                    bench.profile_dir.mkdir(parents=True, exist_ok=True)
                if not args.no_ours:
                    with gateways(env, args.gateways, tmp, source, args.server) as target:
                        results["ours"] = run_side(bench, target, scenarios, teams)
                    flush_redis(redis_url)
                if not args.no_baseline:
                    with relays(env, args.gateways, teams_file, tmp) as target:
                        results["baseline"] = run_side(bench, target, scenarios, teams)
            finally:
                flush_redis(redis_url)
                if args.keep_logs:
                    logs_dir = out_path.with_suffix("") / "logs"
                    logs_dir.mkdir(parents=True, exist_ok=True)
                    for logfile in tmp.glob("*.log"):
                        shutil.copy(logfile, logs_dir / logfile.name)
                    results["logs"] = str(logs_dir)
                for logfile in sorted(tmp.glob("*.log")):
                    tail = logfile.read_bytes()[-1500:].decode(errors="replace")
                    if "Traceback" in tail or "ERROR" in tail:
                        log(f"tail of {logfile.name}:\n{tail}")
    except KeyboardInterrupt:
        log("interrupted: stopping everything")
        exit_code = 130
    finally:
        pool.close()
        shutil.rmtree(tmp, ignore_errors=True)

    summary: dict[str, Any] = {}
    if "ours" in results:
        summary["ours"] = summarize(results["ours"])
    if "baseline" in results:
        summary["baseline"] = summarize(results["baseline"])
    if "ours" in summary and "baseline" in summary:
        summary["ratios_ours_to_baseline"] = ratios(summary["ours"], summary["baseline"])
    if "ours" in summary:
        summary["targets"] = verdicts(summary["ours"], summary.get("ratios_ours_to_baseline", {}), scale)
    results["summary"] = summary
    results["finished_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    results["duration_s"] = round(time.monotonic() - started, 1)
    if not args.no_plot and ("ours" in results or "baseline" in results):
        try:
            from bench.plot import draw

            png = out_path.with_suffix(".png")
            draw(results, png)
            results["plot"] = str(png.relative_to(ROOT) if png.is_relative_to(ROOT) else png)
        except ImportError as exc:
            results["plot"] = f"not drawn: {exc} (pip install -r bench/requirements.txt)"
    document = json.dumps(results, indent=2)
    out_path.write_text(document + "\n")
    print(document)
    log(f"wrote {out_path} in {results['duration_s']} s")
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
