"""One client WebSocket: a plain ASGI application, read loop and frame handlers.

Deliberately not a Channels consumer: a consumer subscribes a channel-layer channel per
connection and runs a thread hop before every message, and neither is wanted here (fan-out is
per process; database work goes through ``apps.gateway.db`` on its own).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from apps.core.conf import setting_int
from apps.core.errors import DomainError
from apps.gateway import handlers
from apps.gateway.asgi_extensions import WEBSOCKET_FANOUT, WEBSOCKET_WRITE
from apps.gateway.caller import Caller, error_frame
from apps.gateway.db import db
from apps.gateway.process import GatewayProcess, WriteMany, current_process
from apps.gateway.sessions import Session, session_authenticate, session_close, session_register
from apps.protocol import codec
from apps.protocol import imcloud_pb2 as pb

logger = logging.getLogger(__name__)

# Close codes (docs/protocol.md).
CLOSE_LOGOUT = 1000
CLOSE_LOGIN_FAILED = 4001
CLOSE_KICKED = 4003
CLOSE_LOGIN_TIMEOUT = 4008
CLOSE_IDLE = 4009

Send = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[dict[str, Any]]]


class TokenBucket:
    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.capacity, self.tokens = rate, burst, burst
        self.stamp = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class Connection:
    def __init__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        self.scope, self._receive, self._send = scope, receive, send
        # The server's synchronous write, where it offers one (apps/gateway/asgi_extensions.py).
        extensions = scope.get("extensions") or {}
        self._write_now: Callable[[bytes | str], None] | None = extensions.get(WEBSOCKET_WRITE)
        # The server's write to many connections at once, where it offers one: ``writer`` is this
        # connection's handle for it, set while pushes may be written that way (logged in, open).
        fanout = extensions.get(WEBSOCKET_FANOUT)
        self._fanout: tuple[object, WriteMany] | None = (
            (fanout["writer"], fanout["write_many"]) if fanout else None
        )
        self.writer: object | None = None
        self.encoding = codec.Encoding.JSON
        self.process: GatewayProcess | None = None
        self.session: Session | None = None
        self.caller: Caller | None = None
        self.session_id = ""
        self.user_id = 0
        self.device_class = ""
        self.device_id = ""
        self.connected_at = self.last_seen = time.monotonic()
        self.idle_timeout = 0.0
        self.ready = False
        self.closed = False
        # Why the session ended, for the app server's session.logout webhook.
        self.close_reason = "closed"
        self._held: list[bytes | str] = []
        self.max_frame = setting_int("GATEWAY_MAX_FRAME_BYTES")
        self.bucket = TokenBucket(setting_int("GATEWAY_RATE_PER_SECOND"), setting_int("GATEWAY_RATE_BURST"))

    # --- ASGI ------------------------------------------------------------------------------------

    async def run(self) -> None:
        try:
            while True:
                event = await self._receive()
                kind = event["type"]
                if kind == "websocket.connect":
                    await self._on_connect()
                elif kind == "websocket.receive":
                    await self._on_receive(event.get("text"), event.get("bytes"))
                elif kind == "websocket.disconnect":
                    return
        finally:
            await self._cleanup()

    async def _on_connect(self) -> None:
        offered = list(self.scope.get("subprotocols") or [])
        encoding = codec.choose_encoding(offered)
        if encoding is None:
            await self._send({"type": "websocket.close", "code": 4000})  # handshake refused: 403
            self.closed = True
            return
        self.encoding = encoding
        await self._send({"type": "websocket.accept", "subprotocol": encoding.value if offered else None})
        self.process = await current_process()
        self.process.add_connection(self)

    async def _cleanup(self) -> None:
        self._mark_closed()
        if self.process is not None:
            self.process.remove_connection(self)
        if self.session is not None:
            try:
                await db(session_close)(session=self.session, reason=self.close_reason)
            except Exception:
                logger.exception("session close failed")

    # --- writing -----------------------------------------------------------------------------------

    async def write(self, data: bytes | str) -> None:
        """Write a pushed frame; held back until the login result has gone out."""
        if self.closed:
            return
        if not self.ready:
            self._held.append(data)
            return
        await self._write_raw(data)

    async def _write_raw(self, data: bytes | str) -> None:
        try:
            if self._write_now is not None:
                self._write_now(data)
            else:
                key = "bytes" if isinstance(data, bytes) else "text"
                await self._send({"type": "websocket.send", key: data})
        except Exception:  # the peer went away mid-write; the disconnect event follows
            self._mark_closed()

    def _mark_closed(self) -> None:
        self.closed = True
        if self.writer is not None:
            self.writer = None
            if self.process is not None:
                self.process.changed()

    async def reply(self, frame: pb.Frame) -> None:
        if not self.closed:
            await self._write_raw(codec.encode(frame, self.encoding))

    async def error(self, request_id: int, code: str, message: str, *, fatal: bool = False) -> None:
        await self.reply(error_frame(request_id, code, message, fatal=fatal))

    async def close(self, code: int) -> None:
        if not self.closed:
            self._mark_closed()
            await self._send({"type": "websocket.close", "code": code})

    async def kick(self, reason: int, detail: str) -> None:
        self.close_reason = "kicked"
        await self.reply(pb.Frame(kick=pb.Kick(reason=reason, detail=detail)))  # type: ignore[arg-type]
        await self.close(CLOSE_KICKED)

    async def check_deadlines(self, now: float) -> None:
        if self.closed:
            return
        if not self.ready and now - self.connected_at > setting_int("GATEWAY_LOGIN_TIMEOUT"):
            self.close_reason = "timeout"
            await self.error(0, "login_timeout", "No login within the login timeout.", fatal=True)
            await self.close(CLOSE_LOGIN_TIMEOUT)
        elif self.ready and now - self.last_seen > self.idle_timeout:
            self.close_reason = "timeout"
            await self.close(CLOSE_IDLE)

    # --- reading -----------------------------------------------------------------------------------

    async def _on_receive(self, text: str | None, data: bytes | None) -> None:
        if self.closed:
            return
        self.last_seen = time.monotonic()
        size = len(data) if data is not None else len((text or "").encode())
        if size > self.max_frame:
            await self.error(0, "frame_too_large", f"Frames are at most {self.max_frame} bytes.")
            return
        try:
            frame = codec.decode(text=text, data=data, encoding=self.encoding)
        except codec.FrameDecodeError as exc:
            if not self.bucket.take():
                await self.error(0, "rate_limited", "Too many frames; slow down.")
                return
            await self.error(0, exc.code, exc.message)
            return
        if not self.bucket.take():
            # Echo the request id, so the client knows which request to send again later.
            await self.error(frame.request_id, "rate_limited", "Too many frames; slow down.")
            return
        kind = frame.WhichOneof("body")
        if kind is None:
            await self.error(frame.request_id, "unknown_frame", "The frame has no body this server knows.")
            return
        if kind == "login":
            await self._login(frame)
            return
        if not self.ready or self.caller is None:
            await self.error(frame.request_id, "not_logged_in", "Log in first.")
            return
        handler = handlers.HANDLERS.get(kind)
        if handler is None:
            await self.error(frame.request_id, "unexpected_frame", f"Clients do not send {kind} frames.")
            return
        try:
            reply = await handlers.answer(self.caller, frame, handler)
        except Exception:
            logger.exception("frame handler failed", extra={"kind": kind})
            await self.error(frame.request_id, "internal_error", "The server failed on this frame.")
            return
        if reply is not None:
            await self.reply(reply)
        if kind == "logout" and (reply is None or reply.WhichOneof("body") != "error"):
            self.close_reason = "logout"
            await self.close(CLOSE_LOGOUT)

    async def _login(self, frame: pb.Frame) -> None:
        if self.ready or self.session_id:
            await self.error(frame.request_id, "already_logged_in", "This connection is logged in.")
            return
        login = frame.login
        assert self.process is not None
        try:
            session = await db(session_authenticate)(
                app_key=login.app_key,
                accid=login.accid,
                token=login.token,
                device_id=login.device_id,
                platform=login.platform,
            )
        except DomainError as exc:
            await self.error(frame.request_id, exc.code, exc.detail, fatal=True)
            await self.close(CLOSE_LOGIN_FAILED)
            return
        except Exception:  # the database, say: the client is told, and may log in again at once
            logger.exception("login failed")
            await self.error(frame.request_id, "internal_error", "The server failed on this login; retry.")
            return
        self.session, self.session_id = session, session.session_id
        self.caller = Caller(session=session, submit=self.process.sends.submit)
        self.user_id, self.device_class, self.device_id = (
            session.user.pk,
            session.device_class,
            session.device_id,
        )
        interval = login.heartbeat_interval or setting_int("GATEWAY_HEARTBEAT_DEFAULT")
        interval = max(
            setting_int("GATEWAY_HEARTBEAT_MIN"), min(interval, setting_int("GATEWAY_HEARTBEAT_MAX"))
        )
        self.idle_timeout = interval * 2 + setting_int("GATEWAY_IDLE_GRACE")
        # Registered here before presence, and presence before any sync read: a message committed
        # after the client's sync snapshot is therefore always delivered live.
        self.process.add_session(self)
        await db(session_register)(session=session, process=self.process.channel)
        result = pb.LoginResult(
            session_id=session.session_id,
            server_time=int(time.time() * 1000),
            heartbeat_min=setting_int("GATEWAY_HEARTBEAT_MIN"),
            heartbeat_max=setting_int("GATEWAY_HEARTBEAT_MAX"),
            idle_timeout=int(self.idle_timeout),
            protocol_version=codec.PROTOCOL_VERSION,
            max_frame_bytes=self.max_frame,
        )
        await self.reply(pb.Frame(request_id=frame.request_id, login_result=result))
        if login.sync_cursor:
            await self.reply(await handlers.conversation_sync_push(self.caller, login.sync_cursor))
        await self.open_for_pushes()

    async def open_for_pushes(self) -> None:
        """After the login result: write what was held back, and take pushes from now on (through
        the server's write to many connections where it offers one)."""
        self.ready = True
        held, self._held = self._held, []
        for data in held:
            await self._write_raw(data)
        if self._fanout is not None and not self.closed and self.process is not None:
            writer, write_many = self._fanout
            if self.process.fanout_with(write_many):
                self.writer = writer
                self.process.changed()


async def gateway_app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    await Connection(scope, receive, send).run()
