"""A local push service for bench/push.py: one of tests/push_servers/, plus a recorder and a control pipe.

    python bench/push_server.py --provider apns [--port N] [--lenient-jwt] [--front h2c|hypercorn]

It runs the provider's test double (`tests.push_servers.<provider>`, the same checks as in the test
suite: JWT/OAuth/VAPID, headers, payload, Web Push decryption) on 127.0.0.1, prints one JSON line
(its URL and the credentials or VAPID binding it accepts, like `python -m tests.push_servers.<name>`),
then answers commands on stdin, one JSON object per line, with one JSON line on stdout:

    {"op": "stats"}                      -> {"delivered", "first", "last", "statuses", "errors", ...}
    {"op": "dump", "path": P}            -> writes every delivered notification to P (JSON)
    {"op": "reset"}                      -> forget what was received (keys and subscriptions stay)
    {"op": "subscribe", "count": N, "key": K, "path": P}  (webpush) -> N subscriptions to P
    {"op": "exit"}

Why not the test module's own CLI: it keeps every request and every notification in memory with
their headers and bodies and cannot say what it received from outside the process; the bench needs
(message id, device, time received) for every notification, counted while the load runs. So each
delivered notification is reduced to that triple as it arrives, and the double's own lists are
emptied as it goes (memory stays flat over hundreds of thousands of requests).

Differences from the stock double, all on purpose and reported in the bench's JSON:
- `--front h2c` (the default for APNs): the double is served by the lean HTTP/2-only front end
  (tests/push_servers/h2c.py, `PushServer.start_h2c`: asyncio + h2, no ASGI) instead of hypercorn,
  with the same validation and recording (both call `PushServer.respond`). hypercorn's HTTP/2 + ASGI
  machinery costs ~0.5 ms of CPU per request, on the cores the measured system runs on. No per-
  connection request cap, like APNs. No `date`/`server` response headers (hypercorn adds them).
  `--front hypercorn` serves it as the tests' `start()` does; FCM and Web Push always use hypercorn
  (their clients speak HTTP/1.1). The front used is in the JSON line printed at start (`"front"`).
- hypercorn closes an HTTP/2 connection after 1,000 requests by default (`keep_alive_max_requests`),
  which the client sees as `ConnectionTerminated` (a retry with backoff) for the streams in flight;
  APNs keeps a connection for hours. The bench raises the limit (--max-requests-per-connection,
  hypercorn front only).
- `--lenient-jwt` (APNs): accept any valid provider JWT, i.e. drop the double's "no new JWT within
  20 minutes" rule (TooManyProviderTokenUpdates). Each worker *process* signs its own JWT, so more
  than one worker process trips that rule; the bench turns this on only when it runs several
  worker processes, and says so.
- `reset` (between the bench's phases) keeps the access tokens the FCM double issued (a real token
  endpoint does not forget them) and forgets the APNs double's last accepted JWT (as if 20 minutes
  had passed), so that workers restarted between phases may sign their own.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from array import array
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import hypercorn.config

from tests.push_servers import base
from tests.push_servers.base import PushServer, Request, Response

PROVIDERS = ("apns", "fcm", "webpush")
FRONTS = ("h2c", "hypercorn")


class Recorder:
    """(message id, device index, time received) of every delivered notification, compactly."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.msg_ids = array("q")
            self.devices = array("l")
            self.times = array("d")
            self.device_index: dict[str, int] = {}
            self.device_keys: list[str] = []
            self.statuses: Counter[str] = Counter()
            self.unparsed = 0

    def add(self, msg_id: int, device: str, when: float) -> None:
        index = self.device_index.get(device)
        if index is None:
            index = self.device_index[device] = len(self.device_keys)
            self.device_keys.append(device)
        self.msg_ids.append(msg_id)
        self.devices.append(index)
        self.times.append(when)

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {
                "delivered": len(self.times),
                "first": self.times[0] if self.times else None,
                "last": max(self.times[-50:]) if self.times else None,
                "statuses": dict(self.statuses),
                "unparsed": self.unparsed,
            }

    def dump(self, path: str) -> dict[str, Any]:
        with self.lock:
            times = self.times.tolist()
            document = {
                "devices": self.device_keys,
                "msg_ids": self.msg_ids.tolist(),
                "device": self.devices.tolist(),
                "times": times,
            }
        Path(path).write_text(json.dumps(document))
        return {"path": path, "delivered": len(times)}


def _msg_id(data: Any) -> int | None:
    try:
        return int(data["server_msg_id"])
    except (KeyError, TypeError, ValueError):
        return None


def recording(cls: type[PushServer], recorder: Recorder, lenient_jwt: bool) -> PushServer:
    """An instance of the provider's double that hands each delivered notification to ``recorder``."""

    class Recording(cls):  # type: ignore[valid-type,misc]
        def handle(self, request: Request) -> Response:
            # Called by PushServer.respond (either front) under self.lock.
            when = time.time()
            if lenient_jwt and hasattr(self, "_last_jwt"):
                self._last_jwt.clear()  # every valid JWT counts as the current one
            response: Response = super().handle(request)
            self.requests.clear()
            delivered = self.delivered
            with recorder.lock:
                status = str(response.status)
                if response.status >= 300:
                    status += " " + response.body[:80].decode("utf-8", "replace")
                recorder.statuses[status] += 1
                for received in delivered:
                    msg_id, device = self.describe_received(received)
                    if msg_id is None:
                        recorder.unparsed += 1
                    else:
                        recorder.add(msg_id, device, when)
            delivered.clear()
            if len(getattr(self, "jwts_accepted", ())) > 1000:
                del self.jwts_accepted[:-10]
            return response

        def describe_received(self, received: Any) -> tuple[int | None, str]:
            if self.name == "apns":
                return _msg_id(received.payload), received.token
            if self.name == "fcm":
                message = received.message
                return _msg_id(message.get("data")), str(message.get("token", ""))
            # webpush: the decrypted payload is what the service worker gets
            try:
                data = json.loads(received.plaintext).get("data")
            except (ValueError, AttributeError):
                data = None
            return _msg_id(data), f"{self.url}/wpush/{received.subscription_id}"

    return Recording()


def build(provider: str, recorder: Recorder, lenient_jwt: bool) -> PushServer:
    if provider == "apns":
        from tests.push_servers.apns import ApnsServer

        return recording(ApnsServer, recorder, lenient_jwt)
    if provider == "fcm":
        from tests.push_servers.fcm import FcmServer

        return recording(FcmServer, recorder, lenient_jwt)
    if provider == "webpush":
        from tests.push_servers.webpush import WebPushServer

        return recording(WebPushServer, recorder, lenient_jwt)
    raise SystemExit(f"unknown provider {provider}")


def patch_hypercorn(max_requests: int) -> None:
    """PushServer.start builds a stock hypercorn Config: raise its per-connection request cap."""

    class Config(hypercorn.config.Config):
        def __init__(self) -> None:
            super().__init__()
            self.keep_alive_max_requests = max_requests

    base.Config = Config  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--provider", choices=PROVIDERS, default="apns")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--lenient-jwt", action="store_true")
    parser.add_argument(
        "--front",
        choices=FRONTS,
        default=None,
        help="what serves the double: h2c (HTTP/2 only; the default for apns) or hypercorn (the default"
        " and the only choice for fcm and webpush)",
    )
    parser.add_argument("--max-requests-per-connection", type=int, default=10**9, help="hypercorn front only")
    args = parser.parse_args()
    front = args.front or ("h2c" if args.provider == "apns" else "hypercorn")
    if front == "h2c" and args.provider != "apns":
        parser.error(f"--front h2c serves HTTP/2 only; the {args.provider} client needs hypercorn")
    recorder = Recorder()
    server = build(args.provider, recorder, args.lenient_jwt)
    if front == "h2c":
        server.start_h2c("127.0.0.1", args.port)
    else:
        patch_hypercorn(args.max_requests_per_connection)
        server.start("127.0.0.1", args.port)
    info: dict[str, Any] = {
        "url": server.url,
        "pid": os.getpid(),
        "provider": args.provider,
        "front": front,
    }
    if args.provider == "apns":
        info["credentials"] = server.new_team_key()  # type: ignore[attr-defined]
    elif args.provider == "fcm":
        info["credentials"] = {"service_account": server.new_service_account()}  # type: ignore[attr-defined]
    stopping = threading.Event()

    def on_signal(*_: object) -> None:
        stopping.set()
        # Unblock the stdin read below.
        os.close(0)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, on_signal)
    print(json.dumps(info), flush=True)
    try:
        for line in sys.stdin:
            if stopping.is_set():
                break
            try:
                command = json.loads(line)
                op = command.get("op")
                if op == "stats":
                    with server.lock:
                        answer = {
                            **recorder.stats(),
                            "errors": len(server.errors),
                            "error_sample": server.errors[-1][-800:] if server.errors else "",
                            "connections": server.connection_count,
                        }
                elif op == "dump":
                    answer = recorder.dump(command["path"])
                elif op == "reset":
                    with server.lock:
                        # FCM's double forgets the access tokens it issued on reset; a real token
                        # endpoint does not, so keep them (the client would get 401 and re-fetch).
                        # APNs: the last accepted JWT is forgotten, as if 20 minutes had passed, so
                        # that workers restarted between phases may sign their own.
                        issued = dict(getattr(server, "access_tokens", {}))
                        server.reset()
                        if issued:
                            server.access_tokens.update(issued)  # type: ignore[attr-defined]
                    recorder.reset()
                    answer = {"ok": True}
                elif op == "subscribe":
                    subs = [
                        server.subscribe(command.get("key")).as_json()  # type: ignore[attr-defined]
                        for _ in range(int(command["count"]))
                    ]
                    Path(command["path"]).write_text(json.dumps(subs))
                    answer = {"path": command["path"], "count": len(subs)}
                elif op == "exit":
                    print(json.dumps({"ok": True}), flush=True)
                    break
                else:
                    answer = {"error": f"unknown op {op!r}"}
            except Exception as exc:
                answer = {"error": f"{type(exc).__name__}: {exc}"}
            print(json.dumps(answer), flush=True)
    except (OSError, ValueError):
        pass  # stdin closed by the signal handler
    finally:
        server.stop()


if __name__ == "__main__":
    main()
