"""Start the real stack (scripts/run.py: daphne + Celery worker) in child processes for tests."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.stack import server_command

ROOT = Path(__file__).resolve().parents[2]
SERVICE_VARS = ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stack_env(data_dir: Path, **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SERVICE_VARS and k != "DJANGO_SETTINGS_MODULE"}
    env.update(
        IMCLOUD_DATA_DIR=str(data_dir),
        IMCLOUD_SECRET_KEY="live-test-secret",
        IMCLOUD_LOG_LEVEL="INFO",
        IMCLOUD_LOG_FORMAT="plain",
        PYTHONUNBUFFERED="1",
        # Concurrent live stacks share Redis: their keys, channels and Celery queues must not meet.
        IMCLOUD_REDIS_NAMESPACE=f"imcloud-live-{uuid.uuid4().hex[:10]}",
        IMCLOUD_CELERY_QUEUE=f"imcloud-live-{uuid.uuid4().hex[:10]}",
    )
    env.update(overrides)
    return env


def manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@dataclass
class HttpResult:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def http(method: str, url: str, body: Any = None, headers: dict[str, str] | None = None) -> HttpResult:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        request.add_header("Content-Type", "application/json")
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=10) as response:
            return HttpResult(response.status, dict(response.headers), response.read())
    except urllib.error.HTTPError as error:
        return HttpResult(error.code, dict(error.headers), error.read())


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def signed_headers(app_key: str, secret: str, nonce: str | None = None) -> dict[str, str]:
    nonce = nonce or uuid.uuid4().hex
    now = str(int(time.time()))
    checksum = hashlib.sha1(f"{secret}{nonce}{now}".encode()).hexdigest()
    return {"AppKey": app_key, "Nonce": nonce, "CurTime": now, "CheckSum": checksum}


def signed_call(base: str, keys: dict[str, str], method: str, path: str, body: Any = None) -> Any:
    """A server-API call signed as the app server signs it; asserts success, returns the JSON."""
    response = http(method, base + path, body, signed_headers(keys["app_key"], keys["app_secret"]))
    assert response.status < 300, (response.status, response.body)
    return response.json()


def create_users(base: str, keys: dict[str, str], accids: tuple[str, ...]) -> dict[str, str]:
    """Provision end users through the REST API; returns each one's token."""
    return {a: signed_call(base, keys, "POST", "/api/v1/users", {"accid": a})["token"] for a in accids}


def wait_for_health(base: str, expect: int = 200, timeout: float = 45) -> HttpResult:
    deadline = time.monotonic() + timeout
    last: HttpResult | None = None
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            last = http("GET", f"{base}/healthz")
            if last.status == expect:
                return last
        time.sleep(0.3)
    raise AssertionError(f"/healthz never answered {expect}; last: {last}")


def children_of(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False)
    return [int(line) for line in found.stdout.split()]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes: it only waits for its parent to reap it.
    with contextlib.suppress(FileNotFoundError):
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    return False


@dataclass
class Stack:
    base: str
    env: dict[str, str]
    process: subprocess.Popen[str]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text()


@contextlib.contextmanager
def running_stack(env: dict[str, str], log_path: Path) -> Iterator[Stack]:
    port = free_port()
    manage(env, "migrate", "--noinput")
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "scripts/run.py", "--port", str(port), "--worker-concurrency", "1"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
    stack = Stack(f"http://127.0.0.1:{port}", env, process, log_path)
    try:
        yield stack
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            for child in children_of(process.pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child, signal.SIGKILL)
            process.wait()


@dataclass
class Gateways:
    bases: list[str]
    env: dict[str, str]
    processes: list[subprocess.Popen[str]]

    def ws(self, index: int) -> str:
        return self.bases[index].replace("http://", "ws://") + "/ws"


@contextlib.contextmanager
def running_gateways(
    env: dict[str, str], count: int, log_dir: Path, server: str = "daphne"
) -> Iterator[Gateways]:
    """``count`` gateway processes (daphne, or uvicorn) sharing one database and one Redis, as in
    production."""
    manage(env, "migrate", "--noinput")
    ports = [free_port() for _ in range(count)]
    processes = []
    for index, port in enumerate(ports):
        with (log_dir / f"{server}-{index}.log").open("w") as log:
            processes.append(
                subprocess.Popen(
                    server_command(server, port),
                    cwd=ROOT,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    text=True,
                )
            )
    gateways = Gateways([f"http://127.0.0.1:{port}" for port in ports], env, processes)
    try:
        for base in gateways.bases:
            wait_for_health(base)
        yield gateways
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
