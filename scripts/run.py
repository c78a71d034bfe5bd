"""Start the whole stack in the foreground: the ASGI server (HTTP + WebSocket: daphne, or uvicorn
with --server uvicorn) and a Celery worker.

Used by ``make run``. Ctrl-C (or SIGTERM) stops every process it started; if one of them dies,
the others are stopped too and the exit status is non-zero.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("IMCLOUD_DATA_DIR") or ROOT / ".data")
STOP_GRACE_SECONDS = 10


SERVERS = ("daphne", "uvicorn")


def server_command(server: str, host: str, port: int) -> list[str]:
    """The ASGI server for HTTP and the gateway: uvicorn (asyncio, its sans-I/O WebSocket on the
    `websockets` package) or daphne (Twisted, autobahn). Both serve the same application."""
    bin_dir = Path(sys.executable).parent
    if server == "uvicorn":
        return [
            str(bin_dir / "uvicorn"),
            "--host", host,
            "--port", str(port),
            "--proxy-headers",
            # Pinned rather than "auto", so that what runs does not depend on optional extras.
            "--loop", "asyncio",
            "--http", "h11",
            "--ws", "websockets-sansio",
            # No server pings: the protocol's heartbeat keeps connections alive (docs/operations.md).
            "--ws-ping-interval", "0",
            # Channels' router has no lifespan protocol.
            "--lifespan", "off",
            "imcloud.asgi:application",
        ]  # fmt: skip
    if server != "daphne":
        raise ValueError(f"server must be one of {SERVERS}")
    # daphne with the gateway's direct write path and no server pings (apps/gateway/daphne_server.py).
    return [
        sys.executable, "-m", "apps.gateway.daphne_server",
        "-b", host,
        "-p", str(port),
        "--proxy-headers",
        "imcloud.asgi:application",
    ]  # fmt: skip


def _commands(host: str, port: int, worker_concurrency: int, server: str) -> dict[str, list[str]]:
    bin_dir = Path(sys.executable).parent
    return {
        server: server_command(server, host, port),
        "worker": [
            str(bin_dir / "celery"),
            "-A", "imcloud",
            "worker",
            "--loglevel", "INFO",
            "--concurrency", str(worker_concurrency),
            # Gossip and mingle need broadcast, which the embedded filesystem broker lacks;
            # they add nothing for a single worker anyway.
            "--without-gossip",
            "--without-mingle",
            # The periodic sweeps (settings.CELERY_BEAT_SCHEDULE) run inside this one worker; with
            # several workers, run one `celery -A imcloud beat` instead (docs/operations.md).
            "--beat",
            "--schedule", str(DATA_DIR / "celerybeat-schedule"),
        ],
    }  # fmt: skip


def _stop(procs: dict[str, subprocess.Popen[bytes]]) -> None:
    for proc in procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for proc in procs.values():
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default=os.environ.get("IMCLOUD_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("IMCLOUD_PORT", "8000")))
    parser.add_argument("--worker-concurrency", type=int, default=2)
    parser.add_argument(
        "--server",
        choices=SERVERS,
        # daphne, the product's server; uvicorn measured faster in bench/run.py (docs/operations.md).
        default=os.environ.get("IMCLOUD_ASGI_SERVER", "daphne"),
        help="the ASGI server (default daphne, or $IMCLOUD_ASGI_SERVER)",
    )
    args = parser.parse_args()

    stopping = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    procs: dict[str, subprocess.Popen[bytes]] = {}
    for name, command in _commands(args.host, args.port, args.worker_concurrency, args.server).items():
        # Own process groups: a terminal's Ctrl-C reaches us only, and we stop children in order.
        procs[name] = subprocess.Popen(command, cwd=ROOT, start_new_session=True)
    print(
        f"imcloud: console http://{args.host}:{args.port}/  health http://{args.host}:{args.port}/healthz"
        f"  WebSocket ws://{args.host}:{args.port}/ws  (Ctrl-C stops everything)",
        flush=True,
    )
    exit_code = 0
    while not stopping:
        dead = {name: proc.returncode for name, proc in procs.items() if proc.poll() is not None}
        if dead:
            print(f"imcloud: {', '.join(dead)} exited ({dead}); stopping the rest", flush=True)
            exit_code = 1
            break
        time.sleep(0.2)
    _stop(procs)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
