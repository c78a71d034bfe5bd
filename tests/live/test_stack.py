"""`make run`'s stack for real: daphne and a Celery worker as child processes, spoken to over HTTP.

Embedded mode (SQLite, in-memory layer, filesystem broker) always runs: it is the quick start on
a bare machine. Services mode runs against PostgreSQL and Redis whenever the suite has them (always
in CI, where IMCLOUD_REQUIRE_SERVICES=1 fails the run before any test if they are missing).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.live.readme import readme_block, with_keys
from tests.live.stack import (
    ROOT,
    Stack,
    alive,
    children_of,
    free_port,
    http,
    manage,
    running_stack,
    signed_headers,
    stack_env,
    wait_for_health,
)
from tests.markers import requires_services

pytestmark = pytest.mark.live


@pytest.fixture
def embedded_stack(tmp_path: Path) -> Iterator[Stack]:
    with running_stack(stack_env(tmp_path), tmp_path / "stack.log") as stack:
        yield stack


@pytest.fixture
def services_stack(tmp_path: Path, live_database: str, live_redis: str) -> Iterator[Stack]:
    env = stack_env(tmp_path, DATABASE_URL=live_database, REDIS_URL=live_redis)
    with running_stack(env, tmp_path / "stack.log") as stack:
        yield stack


def _first_signed_call(stack: Stack) -> None:
    """What the README's quick start does: create an app, sign a call, see replays refused."""
    keys = json.loads(
        manage(stack.env, "create_app", "--owner-email", "dev@example.com", "--name", "Quick start")
    )
    headers = signed_headers(keys["app_key"], keys["app_secret"])
    created = http("POST", f"{stack.base}/api/v1/users", {"accid": "carol"}, headers)
    replayed = http("POST", f"{stack.base}/api/v1/users", {"accid": "bob"}, headers)
    fetched = http(
        "GET", f"{stack.base}/api/v1/users/carol", None, signed_headers(keys["app_key"], keys["app_secret"])
    )
    wrong = http(
        "GET", f"{stack.base}/api/v1/users/carol", None, signed_headers(keys["app_key"], "wrong-secret")
    )
    assert created.status == 201, created.body
    assert len(created.json()["token"]) == 32
    assert replayed.json()["code"] == "replayed_nonce"
    assert fetched.json()["accid"] == "carol"
    assert wrong.json()["code"] == "bad_checksum"
    _readme_examples_work(stack, keys["app_key"], keys["app_secret"])


def _readme_examples_work(stack: Stack, app_key: str, app_secret: str) -> None:
    env = dict(stack.env, BASE=stack.base, APP_KEY=app_key, APP_SECRET=app_secret)
    curl = subprocess.run(
        ["bash", "-c", with_keys(readme_block("quickstart-curl"), app_key, app_secret)],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    python = subprocess.run(
        [sys.executable, "-c", readme_block("quickstart-python")],
        env=env, capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert json.loads(curl.stdout)["accid"] == "alice", curl.stderr
    lines = python.stdout.splitlines()
    assert len(lines) == 2, python.stderr
    assert "'accid': 'bob'" in lines[0]
    assert "'token'" in lines[0]
    assert "'name': 'Bob'" in lines[1]


def _stops_everything_on_ctrl_c(stack: Stack) -> None:
    children = children_of(stack.process.pid)
    os.killpg(stack.process.pid, signal.SIGINT)  # what a terminal's Ctrl-C sends
    stack.process.wait(timeout=30)
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(children) == 2
    assert [pid for pid in children if alive(pid)] == []


def test_embedded_stack_serves_console_api_and_health_then_stops(embedded_stack: Stack):
    health = wait_for_health(embedded_stack.base).json()
    login = http("GET", f"{embedded_stack.base}/login/")
    home = http("GET", f"{embedded_stack.base}/")
    assert {name: c["backend"] for name, c in health["components"].items()} == {
        "database": "sqlite3",
        "channel_layer": "InMemoryChannelLayer",
        "broker": "filesystem",
    }
    assert login.status == 200
    assert b'name="password"' in login.body
    assert home.status == 302
    _first_signed_call(embedded_stack)
    deadline = time.monotonic() + 30
    while "ready." not in embedded_stack.log() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "ready." in embedded_stack.log()  # the Celery worker's own "celery@host ready."
    _stops_everything_on_ctrl_c(embedded_stack)


@requires_services
def test_services_stack_uses_postgres_and_redis(services_stack: Stack):
    health = wait_for_health(services_stack.base).json()
    assert {name: c["backend"] for name, c in health["components"].items()} == {
        "database": "postgresql",
        "channel_layer": "RedisPubSubChannelLayer",
        "broker": "redis",
    }
    _first_signed_call(services_stack)
    _stops_everything_on_ctrl_c(services_stack)


def test_healthz_is_503_when_the_database_and_redis_do_not_answer(tmp_path: Path):
    env = stack_env(
        tmp_path,
        DATABASE_URL="postgres://postgres@127.0.0.1:1/nothing",
        REDIS_URL="redis://127.0.0.1:1/0",
        IMCLOUD_HEALTH_TIMEOUT="2",
    )
    port = free_port()
    daphne = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "daphne"),
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "imcloud.asgi:application",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        health = wait_for_health(f"http://127.0.0.1:{port}", expect=503)
    finally:
        daphne.terminate()
        daphne.wait(timeout=10)
    statuses = {name: c["status"] for name, c in health.json()["components"].items()}
    assert health.json()["status"] == "down"
    assert statuses == {"database": "down", "channel_layer": "down", "broker": "down"}
