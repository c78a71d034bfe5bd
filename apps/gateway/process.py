"""One gateway process: its live connections, its channel-layer inbox, and its housekeeping.

Fan-out is per process: a publisher sends one layer message per destination process (or, for a
connection in its own process, hands it over directly), and the process writes the frame,
encoded once per encoding, to each local connection of the listed users. The layer only wakes;
the database holds the truth, and a device that misses a wake-up recovers by sync.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer

from apps.gateway import registry
from apps.gateway.batching import SendBatcher
from apps.gateway.presence import PRESENCE_REFRESH, SessionEntry, expiry, presence_store
from apps.protocol import codec

if TYPE_CHECKING:
    from apps.gateway.connection import Connection

logger = logging.getLogger(__name__)

WriteMany = Callable[[Sequence[object], bytes | str], None]
Gathered = tuple[dict[codec.Encoding, list[object]], list["Connection"]]

SWEEP_INTERVAL = 1.0
# Groups of at least this many users have their local connections cached (a team's roster), up to
# this many groups per process.
GATHER_CACHE_MIN = 64
GATHER_CACHE_SIZE = 32
GC_THRESHOLD = 50_000


class GatewayProcess:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.channel = ""
        self.by_user: dict[int, set[Connection]] = defaultdict(set)
        self.by_session: dict[str, Connection] = {}
        self.connections: set[Connection] = set()
        # Everything to write goes through one queue, so frames reach a connection in the order
        # they were published, whether they came over the layer or from this process.
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._start_lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self.sends = SendBatcher(loop)
        # The server's write to many connections (apps/gateway/asgi_extensions.py), once known.
        self.write_many: WriteMany | None = None
        # The local connections of recent large groups (a team's roster here), by their user ids:
        # a team's next message finds its writers without a lookup per member.
        self._gathered: OrderedDict[tuple[int, ...], Gathered] = OrderedDict()

    async def ensure_started(self) -> None:
        if self.channel:
            return
        async with self._start_lock:
            if self.channel:
                return
            # Long-lived objects (modules, settings, the ORM's caches) need no collecting, and a
            # full collection in the middle of a large fan-out is what shows up in its tail.
            _tune_gc_once()
            layer = get_channel_layer()
            assert layer is not None
            self.channel = await layer.new_channel("gateway.")
            self._tasks = [
                self.loop.create_task(self._listen(layer)),
                self.loop.create_task(self._work()),
                self.loop.create_task(self._sweep()),
                self.loop.create_task(self._refresh_presence()),
            ]
            registry.remember(self.channel, self)
            logger.info("gateway process started", extra={"channel": self.channel})

    # --- connections ---------------------------------------------------------------------------

    def add_connection(self, conn: Connection) -> None:
        self.connections.add(conn)

    def remove_connection(self, conn: Connection) -> None:
        self.connections.discard(conn)
        if conn.session_id:
            self.changed()
            self.by_session.pop(conn.session_id, None)
            users = self.by_user.get(conn.user_id)
            if users is not None:
                users.discard(conn)
                if not users:
                    del self.by_user[conn.user_id]

    def add_session(self, conn: Connection) -> None:
        self.by_session[conn.session_id] = conn
        self.by_user[conn.user_id].add(conn)
        self.changed()

    def changed(self) -> None:
        """A session came or went, or a connection's writer did: gathered groups are stale."""
        self._gathered.clear()

    def reaches(self, user_id: int, exclude: str) -> bool:
        """Whether a user has a session here other than ``exclude``."""
        return any(conn.session_id != exclude for conn in self.by_user.get(user_id, ()))

    def entry_for(self, conn: Connection) -> SessionEntry:
        return SessionEntry(
            session_id=conn.session_id,
            user_id=conn.user_id,
            process=self.channel,
            device_class=conn.device_class,
            device_id=conn.device_id,
            expires_at=expiry(),
        )

    # --- inbox -----------------------------------------------------------------------------------

    async def _listen(self, layer: Any) -> None:
        while True:
            try:
                message = await layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception:  # a broken layer must not kill the process's inbox
                logger.exception("gateway inbox receive failed")
                await asyncio.sleep(1)
                continue
            self.inbox.put_nowait(message)

    async def _work(self) -> None:
        while True:
            message = await self.inbox.get()
            try:
                await self.handle(message)
            except Exception:
                logger.exception("gateway inbox message failed", extra={"kind": message.get("type")})

    def post(self, message: dict[str, Any]) -> None:
        """Queue a message from any thread of this OS process."""
        self.loop.call_soon_threadsafe(self.inbox.put_nowait, message)

    async def handle(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "gw.deliver":
            await self._deliver(message["groups"])
        elif kind == "gw.kick":
            for session_id in message["sessions"]:
                conn = self.by_session.get(session_id)
                if conn is not None:
                    await conn.kick(message["reason"], message.get("detail", ""))

    def fanout_with(self, write_many: WriteMany) -> bool:
        """Whether a connection offering ``write_many`` may be written through it: the first one
        offered is the process's (one server per process), and a connection offering another is
        written one by one."""
        if self.write_many is None:
            self.write_many = write_many
        return write_many is self.write_many

    async def _deliver(self, groups: list[list[Any]]) -> None:
        write_many = self.write_many
        for user_ids, frame, exclude in groups:
            fast, slow = self._gather(user_ids)
            origin = self.by_session.get(exclude) if exclude else None
            if origin is not None:  # the sending device has its ack; the gathered lists are shared
                if origin.writer is not None and origin.writer in fast.get(origin.encoding, ()):
                    fast = {
                        **fast,
                        origin.encoding: [w for w in fast[origin.encoding] if w is not origin.writer],
                    }
                elif origin in slow:
                    slow = [conn for conn in slow if conn is not origin]
            encoded: dict[codec.Encoding, bytes | str] = {}
            for encoding, writers in fast.items():
                data = encoded[encoding] = encode_push(frame, encoding)
                assert write_many is not None  # a connection has a writer only once it is set
                write_many(writers, data)
            for conn in slow:
                payload = encoded.get(conn.encoding)
                if payload is None:
                    payload = encoded[conn.encoding] = encode_push(frame, conn.encoding)
                await conn.write(payload)

    def _gather(self, user_ids: list[int]) -> Gathered:
        """The local connections of ``user_ids``: the writers of those the server writes to in one
        call, by encoding, and the rest. Not to be modified: large groups are cached until the
        next ``changed``. Gathered without an await, so the sets cannot change underneath."""
        key = tuple(user_ids) if len(user_ids) >= GATHER_CACHE_MIN else None
        if key is not None:
            hit = self._gathered.get(key)
            if hit is not None:
                self._gathered.move_to_end(key)
                return hit
        by_user = self.by_user
        fast: dict[codec.Encoding, list[object]] = {}
        slow: list[Connection] = []
        for user_id in user_ids:
            conns = by_user.get(user_id)
            if conns is None:
                continue
            for conn in conns:
                writer = conn.writer
                if writer is None:
                    slow.append(conn)
                    continue
                writers = fast.get(conn.encoding)
                if writers is None:
                    writers = fast[conn.encoding] = []
                writers.append(writer)
        if key is not None:
            self._gathered[key] = (fast, slow)
            if len(self._gathered) > GATHER_CACHE_SIZE:
                self._gathered.popitem(last=False)
        return fast, slow

    # --- housekeeping ------------------------------------------------------------------------------

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_INTERVAL)
            now = time.monotonic()
            for conn in list(self.connections):
                with contextlib.suppress(Exception):
                    await conn.check_deadlines(now)

    async def _refresh_presence(self) -> None:
        store = presence_store()
        while True:
            await asyncio.sleep(PRESENCE_REFRESH)
            entries = [self.entry_for(conn) for conn in list(self.by_session.values())]
            if not entries:
                continue
            try:
                await sync_to_async(store.put, thread_sensitive=False)(entries)
            except Exception:
                logger.exception("presence refresh failed", extra={"sessions": len(entries)})


def encode_push(frame: bytes, encoding: codec.Encoding) -> bytes | str:
    """A pushed frame (serialised protobuf) in a connection's encoding."""
    return frame if encoding is codec.Encoding.PROTO else codec.proto_to_json(frame)


_by_loop: dict[asyncio.AbstractEventLoop, GatewayProcess] = {}
_gc_tuned = False


def _tune_gc_once() -> None:
    global _gc_tuned
    if not _gc_tuned:
        _gc_tuned = True
        gc.freeze()
        gc.set_threshold(GC_THRESHOLD, 20, 50)


def process_on(loop: asyncio.AbstractEventLoop) -> GatewayProcess | None:
    """The gateway process of ``loop`` if it has one, without creating or starting it."""
    return _by_loop.get(loop)


async def current_process() -> GatewayProcess:
    """The gateway process of the running event loop (one per daphne process in production)."""
    loop = asyncio.get_running_loop()
    process = _by_loop.get(loop)
    if process is None:
        for stale in [lp for lp in _by_loop if lp.is_closed()]:
            registry.forget(_by_loop.pop(stale).channel)
        process = _by_loop[loop] = GatewayProcess(loop)
    await process.ensure_started()
    return process
