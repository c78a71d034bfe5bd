"""A lean HTTP/2 cleartext front end for a `PushServer`: asyncio + h2, no ASGI, no hypercorn.

HTTP/2 with prior knowledge only (h2c, what the APNs client speaks to an http:// URL). Each complete
request becomes the same `base.Request` the ASGI path builds (hypercorn's view of an HTTP/2 request:
``host`` from ``:authority`` first, then the other headers without the pseudo-headers; the path
percent-decoded, the query as sent) and goes to `PushServer.respond`, so the double's validation and
recording are the ones the hypercorn-served double runs. A connection that does not open with the
HTTP/2 preface (e.g. an HTTP/1.1 request line) is closed.

Why: hypercorn's HTTP/2 + ASGI machinery costs about half a millisecond of CPU per request, and the
push benchmark runs the double on the same cores as the system it measures. Here one
`asyncio.Protocol` per connection feeds h2 and answers synchronously: no task per request or per
connection, one write per batch of bytes read; Huffman-coded header strings are decoded once
(`memoise_huffman`). h2 still checks every request's headers, as under hypercorn. A delayed answer
(`Response.delay`) is sent from a `call_later` timer, so the other streams of the connection go on
meanwhile.

Use: ``server.start_h2c()`` (`PushServer.start_h2c`), stopped by ``server.stop()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import socket
import traceback
from typing import TYPE_CHECKING
from urllib.parse import unquote

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
import hpack.hpack

from tests.push_servers.base import Request, Response

if TYPE_CHECKING:
    from tests.push_servers.base import PushServer

MAX_CONCURRENT_STREAMS = 1000
MAX_HEADER_LIST_SIZE = 65536  # hypercorn's default
WINDOW = 2**24  # each stream's and the connection's receive window: the client never waits for us
DEFAULT_WINDOW = 65535  # the connection window every HTTP/2 connection starts with (RFC 9113 §6.9.2)
CONFIG = h2.config.H2Configuration(client_side=False, header_encoding=None)
COLON = ord(":")


class H2cConnection(asyncio.Protocol):
    """One client connection: h2's state machine, the requests being received, the bodies being sent."""

    def __init__(self, server: PushServer, registry: set[H2cConnection]) -> None:
        self.server = server
        self.registry = registry
        self.loop = asyncio.get_running_loop()
        self.h2 = h2.connection.H2Connection(config=CONFIG)
        self.transport: asyncio.Transport | None = None
        self.client = ("", 0)
        self.receiving: dict[int, tuple[list[tuple[bytes, bytes]], list[bytes]]] = {}  # headers, body
        self.sending: dict[int, bytes] = {}  # response bodies waiting for flow-control window
        self.closed = False

    # --- asyncio.Protocol -------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.registry.add(self)
        peer = transport.get_extra_info("peername")
        self.client = (str(peer[0]), int(peer[1])) if peer else ("", 0)
        self.h2.local_settings = h2.settings.Settings(
            client=False,
            initial_values={
                h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: MAX_CONCURRENT_STREAMS,
                h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE: MAX_HEADER_LIST_SIZE,
                h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: WINDOW,
            },
        )
        self.h2.initiate_connection()
        self.h2.increment_flow_control_window(WINDOW - DEFAULT_WINDOW)
        self.flush()

    def data_received(self, data: bytes) -> None:
        try:
            events = self.h2.receive_data(data)
        except h2.exceptions.ProtocolError:
            # Not HTTP/2 (no preface: an HTTP/1.1 request, say) or a peer breaking the protocol;
            # h2 may have queued a GOAWAY saying why.
            self.flush()
            self.close()
            return
        try:
            for event in events:
                if isinstance(event, h2.events.DataReceived):
                    received = self.receiving.get(event.stream_id)
                    if received is not None:
                        received[1].append(event.data)
                    # Consumed at once (bodies are kept in memory): give the window back.
                    self.h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                elif isinstance(event, h2.events.RequestReceived):
                    self.receiving[event.stream_id] = (event.headers or [], [])
                elif isinstance(event, h2.events.StreamEnded):
                    received = self.receiving.pop(event.stream_id, None)
                    if received is not None:
                        self.answer(event.stream_id, *received)
                elif isinstance(event, h2.events.WindowUpdated):
                    if self.sending:
                        self.send_waiting(event.stream_id)
                elif isinstance(event, h2.events.RemoteSettingsChanged):
                    if self.sending:  # a new initial window size may have widened the streams' windows
                        self.send_waiting(0)
                elif isinstance(event, h2.events.StreamReset):
                    self.receiving.pop(event.stream_id, None)
                    self.sending.pop(event.stream_id, None)
                elif isinstance(event, h2.events.ConnectionTerminated):
                    self.flush()
                    self.close()
                    return
        except Exception:  # a bug in this front end: fail the tests that look at server.errors
            with self.server.lock:
                self.server.errors.append(traceback.format_exc())
            self.close()
            return
        self.flush()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.receiving.clear()
        self.sending.clear()
        self.registry.discard(self)

    # --- requests and responses -------------------------------------------------------------------
    def answer(self, stream_id: int, headers: list[tuple[bytes, bytes]], body: list[bytes]) -> None:
        method = raw_path = b""
        authority: bytes | None = None
        host = b""
        fields = []
        for name, value in headers:
            if name[0] == COLON:
                if name == b":method":
                    method = value
                elif name == b":path":
                    raw_path = value
                elif name == b":authority":
                    authority = value
            elif name == b"host":
                host = value
            else:
                fields.append((name.decode("latin-1").lower(), value.decode("latin-1")))
        raw_headers = (("host", (host if authority is None else authority).decode("latin-1")), *fields)
        path, _, query = raw_path.partition(b"?")
        request = Request(
            method=method.decode("ascii").upper(),
            path=unquote(path.decode("ascii")),
            query=query.decode("latin-1"),
            headers=dict(raw_headers),
            raw_headers=raw_headers,
            body=b"".join(body),
            client=self.client,
            http_version="2",
        )
        response = self.server.respond(request)
        if response.delay:
            self.loop.call_later(response.delay, self.answer_later, stream_id, response)
        else:
            self.send_response(stream_id, response)

    def answer_later(self, stream_id: int, response: Response) -> None:
        if self.closed:
            return
        self.send_response(stream_id, response)
        self.flush()

    def send_response(self, stream_id: int, response: Response) -> None:
        headers = [(":status", str(response.status)), *response.headers]
        try:
            self.h2.send_headers(stream_id, headers, end_stream=not response.body)
        except h2.exceptions.ProtocolError:
            return  # the client reset the stream (or the connection is closing): nobody to answer
        if response.body:
            self.sending[stream_id] = response.body
            self.send_body(stream_id)

    def send_body(self, stream_id: int) -> None:
        """Send as much of the waiting body as the flow-control windows allow; the rest waits."""
        body = self.sending[stream_id]
        try:
            window = min(self.h2.local_flow_control_window(stream_id), self.h2.max_outbound_frame_size)
            while window > 0:
                chunk, body = body[:window], body[window:]
                self.h2.send_data(stream_id, chunk, end_stream=not body)
                if not body:
                    break
                window = min(self.h2.local_flow_control_window(stream_id), self.h2.max_outbound_frame_size)
        except h2.exceptions.ProtocolError:
            body = b""  # the stream is gone
        if body:
            self.sending[stream_id] = body
        else:
            del self.sending[stream_id]

    def send_waiting(self, stream_id: int) -> None:
        """After a WINDOW_UPDATE (0: the connection's) or a SETTINGS change: go on with waiting bodies."""
        if stream_id == 0:
            for waiting in list(self.sending):
                self.send_body(waiting)
        elif stream_id in self.sending:
            self.send_body(stream_id)

    # --- the wire ---------------------------------------------------------------------------------
    def flush(self) -> None:
        data = self.h2.data_to_send()
        if data and not self.closed and self.transport is not None:
            self.transport.write(data)

    def close(self) -> None:
        if not self.closed and self.transport is not None:
            self.closed = True
            self.transport.close()  # writes what is buffered first

    def goodbye(self) -> None:
        """Server shutdown: GOAWAY, then close."""
        if self.closed:
            return
        with contextlib.suppress(h2.exceptions.ProtocolError):
            self.h2.close_connection()
        self.flush()
        self.close()


def memoise_huffman() -> None:
    """Remember the last Huffman-coded header strings hpack decoded (process-wide, idempotent).

    hpack decodes Huffman codes in pure Python, bit by bit: ~20 µs for an APNs provider JWT, which
    the client sends as a literal with every request (``authorization`` is never put in the HPACK
    table: h2 and nghttp2 both mark it never-indexed, RFC 7541 §7.1.3). The decoding is a pure
    function of the bytes, so caching it changes nothing but the cost (~15% of this front end's CPU
    per request with libcurl as the client).
    """
    decode = hpack.hpack.decode_huffman  # type: ignore[attr-defined]
    if not hasattr(decode, "cache_info"):
        hpack.hpack.decode_huffman = functools.lru_cache(maxsize=1024)(decode)  # type: ignore[attr-defined,assignment]


async def serve_h2c(server: PushServer, sock: socket.socket, stop: asyncio.Event) -> None:
    """Serve ``server`` on the listening ``sock`` until ``stop`` is set."""
    memoise_huffman()
    loop = asyncio.get_running_loop()
    registry: set[H2cConnection] = set()
    listener = await loop.create_server(lambda: H2cConnection(server, registry), sock=sock, backlog=1024)
    try:
        await stop.wait()
    finally:
        listener.close()
        for connection in list(registry):
            connection.goodbye()
        await listener.wait_closed()
        await asyncio.sleep(0)  # let the transports' close callbacks run
