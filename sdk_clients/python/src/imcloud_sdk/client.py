"""The Client: the public API, and the connection manager that keeps one logged-in link alive.

One manager task runs for the client's life: it picks candidates (LBS, cache, built-in endpoints,
ranked by history), races them, serves the winning link (smart heartbeat, first-response
watchdog), and after a drop waits on the reconnect ladder and starts again. A second task brings
in the short link (HTTP) while no WebSocket is logged in. docs/sdk.md explains every number.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Callable, Coroutine
from typing import Any, Literal, cast

from google.protobuf.message import Message as ProtoMessage

from imcloud_sdk import codec, errors
from imcloud_sdk._generated import imcloud_pb2 as pb
from imcloud_sdk._generated.requests import IDEMPOTENT, GeneratedRequests
from imcloud_sdk.backoff import ReconnectBackoff
from imcloud_sdk.clock import Clock, SystemClock
from imcloud_sdk.endpoints import EndpointDirectory, EndpointRanker
from imcloud_sdk.errors import ImError
from imcloud_sdk.events import ConnectionState, EventBus, Handler
from imcloud_sdk.heartbeat import SmartHeartbeat
from imcloud_sdk.log import ClientLog
from imcloud_sdk.options import CLIENT_VERSION, PROTOCOL_VERSION, ClientOptions
from imcloud_sdk.ordering import ConversationKey, ConversationOrdering, key_of
from imcloud_sdk.outbox import Outbox, Pending
from imcloud_sdk.persistence import (
    HEARTBEAT_KEY,
    StateKeeper,
    delivered_document,
    parse_conversation_id,
    session_key,
)
from imcloud_sdk.racing import FatalAttempt, race
from imcloud_sdk.transport_http import fetch_lbs, post_frame
from imcloud_sdk.transport_ws import LinkClosed, WsLink

P2P, TEAM = pb.CONVERSATION_TYPE_P2P, pb.CONVERSATION_TYPE_TEAM
NOT_OVER_HTTP = frozenset({"login", "ping", "logout", "typing", "app_state"})
WATCH_TICK = 0.2  # seconds between checks of the heartbeat and request deadlines
LATEST = 2**62  # before_seq for "the newest page"

Transport = Literal["websocket", "http"]


# Why _watch gave up on a link that is still open: nothing comes through it any more.
DEAD_LINK_REASONS = frozenset({"pong_timeout", "first_response_timeout"})


class Client(GeneratedRequests):
    def __init__(self, options: ClientOptions, *, clock: Clock | None = None) -> None:
        self.options = options
        self._clock: Clock = clock or SystemClock()
        self._log = ClientLog(options.log_capacity, self._clock)
        self._events = EventBus(self._log)
        self._ranker = EndpointRanker(options, self._clock)
        self._directory = EndpointDirectory(options, self._clock)
        self._heartbeat = SmartHeartbeat(options, self._clock)
        self._backoff = ReconnectBackoff(options, self._clock)
        self._ordering = ConversationOrdering()
        self._outbox = Outbox()
        self._keeper = StateKeeper(options.store, self._log)
        # The cursor saved for the next run: only one whose listing was fully fetched, or a restart
        # would skip the conversations still being fetched.
        self._saved_cursor = ""
        self._state = ConnectionState.DISCONNECTED
        self._transport: Transport | None = None
        self._link: WsLink | None = None
        self._http_base: str | None = None
        self._http_lock = asyncio.Lock()
        self._http_request_ids = 0
        self._accid = ""
        self._token = ""
        self._cursor = ""
        self._listed = False
        self._foreground = True
        self._closed = False
        self._terminal: ImError | None = None
        self._wake = asyncio.Event()
        self._all_failed_once = False
        self._first_login: asyncio.Future[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._fetching: dict[ConversationKey, asyncio.Task[None]] = {}
        self._fetch_until: dict[ConversationKey, int] = {}
        self._list_lock = asyncio.Lock()
        self._last_rx = 0.0
        self._ping_request_id = 0
        self._ping_sent_at: float | None = None
        self._flushing = False
        self.session: pb.LoginResult | None = None
        # Counters for diagnostics (and tests): how hard the client has been trying.
        self.stats: dict[str, int] = {"connect_attempts": 0, "logins": 0, "http_requests": 0, "resent": 0}

    # --- public API ---------------------------------------------------------------------------

    @property
    def state(self) -> ConnectionState:
        return self._state

    @property
    def transport(self) -> Transport | None:
        return self._transport

    @property
    def accid(self) -> str:
        return self._accid

    @property
    def cursor(self) -> str:
        return self._cursor

    def on(self, event: str, handler: Handler) -> Callable[[], None]:
        """Subscribe to "state", "message", "receipt", "recall", "typing", "team" or "error";
        returns a function that unsubscribes. Handlers may be plain functions or coroutines."""
        return self._events.on(event, handler)

    def dump_log(self) -> list[dict[str, Any]]:
        return self._log.dump()

    async def login(self, accid: str, token: str) -> None:
        """Connect and log in; returns once logged in (over WebSocket or the short link).

        Raises ImError with the server's code (unknown_app, bad_credentials, blocked) when the login
        is refused, `protocol_mismatch` when the server speaks another protocol, `timeout` when no
        endpoint answered within `request_timeout` (the client keeps trying in the background)."""
        if self._first_login is not None:
            raise ImError("already_logged_in", "this client has logged in already; make a new Client")
        self._accid, self._token = accid, token
        loop = asyncio.get_running_loop()
        self._first_login = loop.create_future()
        self._log.info("login", accid=accid, device_id=self.options.device_id)
        await self._restore()
        self._spawn(self._manage())
        self._spawn(self._short_link())
        self._spawn(self._persist())
        try:
            await asyncio.wait_for(asyncio.shield(self._first_login), self.options.request_timeout)
        except TimeoutError:
            raise ImError(errors.TIMEOUT, "no endpoint answered; still trying in the background") from None

    async def send_text(
        self, target: str, text: str, team: bool = False, client_msg_id: str | None = None, ext: str = ""
    ) -> pb.SendAck:
        return await self._send(
            _message(target, team, pb.MESSAGE_TYPE_TEXT, client_msg_id, text=text, ext=ext)
        )

    async def send_custom(
        self,
        target: str,
        data: Any,
        team: bool = False,
        client_msg_id: str | None = None,
        ext: str = "",
    ) -> pb.SendAck:
        """`data`: a JSON document as text, or anything json.dumps accepts."""
        custom = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
        return await self._send(
            _message(target, team, pb.MESSAGE_TYPE_CUSTOM, client_msg_id, custom=custom, ext=ext)
        )

    async def send_media(
        self,
        target: str,
        kind: pb.MessageType,
        attachment: pb.Attachment,
        team: bool = False,
        text: str = "",
        client_msg_id: str | None = None,
        ext: str = "",
    ) -> pb.SendAck:
        """`kind`: MESSAGE_TYPE_IMAGE, _AUDIO, _VIDEO or _FILE; the file is uploaded by the app first."""
        return await self._send(
            _message(target, team, kind, client_msg_id, attachment=attachment, text=text, ext=ext)
        )

    async def send_location(
        self,
        target: str,
        latitude: float,
        longitude: float,
        title: str = "",
        team: bool = False,
        client_msg_id: str | None = None,
        ext: str = "",
    ) -> pb.SendAck:
        return await self._send(
            _message(
                target,
                team,
                pb.MESSAGE_TYPE_LOCATION,
                client_msg_id,
                location=pb.Location(latitude=latitude, longitude=longitude, title=title),
                ext=ext,
            )
        )

    async def sync(self) -> None:
        """Fetch the conversation list and every missed message now (the SDK also does it by itself
        after each login and on every gap)."""
        await self._sync_conversations()
        while self._fetching:
            await asyncio.gather(*list(self._fetching.values()), return_exceptions=True)

    async def history(
        self, target: str, before_seq: int = 0, limit: int = 50, team: bool = False
    ) -> list[pb.Message]:
        """The page of messages just before `before_seq` (0: the newest), oldest first."""
        result = await self._rpc_sync(
            conversation_type=TEAM if team else P2P,
            target=target,
            before_seq=before_seq or LATEST,
            limit=limit,
        )
        return list(result.messages)

    async def mark_read(self, target: str, seq: int, team: bool = False) -> pb.MarkReadAck:
        return await self._rpc_mark_read(conversation_type=TEAM if team else P2P, target=target, seq=seq)

    async def recall(self, target: str, server_msg_id: str, team: bool = False) -> pb.RecallAck:
        return await self._rpc_recall(
            conversation_type=TEAM if team else P2P, target=target, server_msg_id=server_msg_id
        )

    async def typing(self, target: str) -> None:
        """Tell a one-to-one peer "typing"; dropped when not connected (it is not worth a resend)."""
        await self._rpc_typing(conversation_type=P2P, target=target)

    def network_changed(self, network_key: str = "default") -> None:
        """The OS says the network changed (Wi-Fi <-> cellular, new Wi-Fi): reconnect now.

        `network_key` names the network (an SSID hash, "cellular"...): the heartbeat interval and
        the endpoint ranking are learned per network."""
        self._log.info("network_changed", network=network_key)
        self._heartbeat.set_network(network_key)
        self._ranker.network = network_key
        self._reconnect_now("network_changed")

    def set_foreground(self, foreground: bool) -> None:
        """In the background the reconnect ladder climbs to `reconnect_max_background` and the server
        sends offline pushes; coming back to the foreground reconnects at once."""
        if foreground == self._foreground:
            return
        self._foreground = foreground
        self._backoff.background = not foreground
        self._log.info("foreground", foreground=foreground)
        if self._link is not None:
            link = self._link
            self._spawn(self._fire(link, "app_state", pb.AppState(foreground=foreground)))
        elif foreground:
            self._reconnect_now("foreground")

    async def logout(self) -> None:
        """End the session on the server (stops offline push to this device) and close."""
        if self._link is not None:
            await self._fire(self._link, "logout", pb.Logout())
        await self.close()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._log.info("close")
        self._wake.set()
        self._finish_login(ImError(errors.CLOSED, "the client was closed"))
        current = asyncio.current_task()
        tasks = [task for task in self._tasks | set(self._fetching.values()) if task is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._link is not None:
            await self._link.close()
            self._link = None
        self._outbox.fail_all(ImError(errors.CLOSED, "the client was closed"))
        if self._accid:
            await self._keeper.save(self._saved_state())
        self._transport = None
        self._set_state(ConnectionState.DISCONNECTED, "closed")
        await self._events.drain()

    async def wait_for_state(self, *states: ConnectionState, timeout: float = 30.0) -> ConnectionState:
        """Wait until the client is in one of `states` (for apps and tests that need a barrier)."""
        async with asyncio.timeout(timeout):
            while self._state not in states:
                await asyncio.sleep(0.05)
        return self._state

    # --- requests -----------------------------------------------------------------------------

    async def _send(self, body: pb.SendMessage) -> pb.SendAck:
        try:
            frame = await self._request("send", body, expect="send_ack", idempotent="send" in IDEMPOTENT)
        except ImError as exc:
            if exc.code not in (errors.CLOSED,):
                self._events.emit(
                    "error",
                    ImError(
                        errors.SEND_FAILED,
                        exc.message or exc.code,
                        cause=exc.code,
                        client_msg_id=body.client_msg_id,
                    ),
                )
            raise
        return frame.send_ack

    async def _request(
        self,
        field: str,
        body: ProtoMessage,
        *,
        expect: str | None,
        idempotent: bool,
        timeout: float | None = None,
    ) -> pb.Frame:
        if self._closed:
            raise ImError(errors.CLOSED, "the client was closed")
        if self._terminal is not None:
            raise ImError(self._terminal.code, self._terminal.message)
        if expect is None:
            if self._link is not None:
                await self._fire(self._link, field, body)
            return pb.Frame()
        loop = asyncio.get_running_loop()
        pending = Pending(field, body, expect, loop.create_future(), self._clock.monotonic(), idempotent)
        self._check_size(pending)
        self._outbox.add(pending)
        try:
            if self._link is not None and self._transport == "websocket" and not self._flushing:
                await self._write(self._link, pending)
            elif self._transport == "http":
                self._spawn(self._post_pending(pending))
            return await asyncio.wait_for(
                asyncio.shield(pending.future),
                timeout if timeout is not None else self.options.request_timeout,
            )
        except TimeoutError:
            self._log.warning("request_timeout", kind=field, attempts=pending.attempts)
            raise ImError(errors.TIMEOUT, f"no reply to {field} in time") from None
        finally:
            self._outbox.remove(pending)
            if not pending.future.done():
                pending.future.cancel()

    def _check_size(self, pending: Pending) -> None:
        """A frame over the server's limit is dropped there without a reply: refuse it here instead
        of resending it on link after link."""
        limit = self.session.max_frame_bytes if self.session is not None else 0
        if limit and len(codec.encode(pending.frame(2**32), self.options.encoding)) > limit:
            raise ImError("frame_too_large", f"the {pending.kind} frame is over {limit} bytes")

    async def _flush(self, link: WsLink) -> None:
        """Write the outbox to a new link in call order; requests made meanwhile queue behind it, so
        a later send never overtakes an earlier one."""
        self._flushing = True
        try:
            while unwritten := [p for p in self._outbox.in_order() if p.link_id != link.id]:
                for pending in unwritten:
                    if not pending.future.done():
                        await self._write(link, pending)
                    pending.link_id = link.id
        finally:
            self._flushing = False

    async def _write(self, link: WsLink, pending: Pending) -> None:
        request_id = link.next_request_id()
        self._outbox.assign(pending, link.id, request_id)
        pending.sent_at = self._clock.monotonic()
        pending.attempts += 1
        if pending.attempts > 1:
            self.stats["resent"] += 1
        # On a dead link the manager notices and the request is resent on the next one.
        pending.written_link = None
        with contextlib.suppress(LinkClosed):
            await link.send(pending.frame(request_id))
            pending.written_link = link.id

    def _connection_lost(self, link_id: int) -> None:
        """The link died: what was written to it and is not idempotent may or may not have been
        carried out, so it fails now instead of being repeated (the rest goes on the next link)."""
        for pending in self._outbox.written_to(link_id):
            if not pending.idempotent:
                self._log.warning("connection_lost", kind=pending.kind)
                pending.future.set_exception(
                    ImError(errors.CONNECTION_LOST, f"the link died before {pending.kind} was answered")
                )

    def _rate_limit_wait(self, pending: Pending, retry_after: float | None = None) -> float:
        pending.refusals += 1
        backoff = self.options.rate_limit_delay * 2 ** (pending.refusals - 1)
        delay = min(backoff, self.options.rate_limit_max) if retry_after is None else retry_after
        self._log.info("rate_limited", kind=pending.kind, refusals=pending.refusals, retry_in=delay)
        return delay

    def _rate_limited(self, link: WsLink, pending: Pending) -> None:
        """The server refused the frame unprocessed: the same link takes it again after a pause."""
        delay = self._rate_limit_wait(pending)
        pending.written_link, pending.sent_at = None, None  # not carried out; no reply is owed

        async def again() -> None:
            await asyncio.sleep(delay)
            if not pending.future.done() and self._link is link and pending.link_id == link.id:
                await self._write(link, pending)

        self._spawn(again())

    async def _fire(self, link: WsLink, field: str, body: ProtoMessage) -> None:
        frame = pb.Frame(request_id=link.next_request_id())
        getattr(frame, field).CopyFrom(body)
        with contextlib.suppress(LinkClosed):
            await link.send(frame)

    def _complete(self, pending: Pending, frame: pb.Frame) -> None:
        if pending.future.done():
            return
        kind = frame.WhichOneof("body")
        if kind == "error":
            pending.future.set_exception(ImError(frame.error.code, frame.error.message))
        elif kind == pending.expect:
            pending.future.set_result(frame)
            if kind == "send_ack":
                ack = frame.send_ack
                key: ConversationKey = (int(ack.conversation_type), ack.target)
                accepted = self._ordering.accept_own(key, int(ack.seq), new_since_listing=self._listed)
                self._deliver(accepted.deliver)
                if accepted.gap_after is not None:
                    # Seqs below our own are the peer's messages still on their way (or lost with a
                    # link): fetch them rather than wait.
                    self._log.info("gap", target=ack.target, held_seq=ack.seq, after=accepted.gap_after)
                    self._schedule_fetch(key, int(ack.seq))
        else:
            pending.future.set_exception(ImError("unexpected_reply", f"{kind} answered {pending.kind}"))

    # --- connection manager -------------------------------------------------------------------

    def _spawn(self, coroutine: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self._log.error("task_failed", error=repr(task.exception()))

    def _set_state(self, state: ConnectionState, detail: Any = None) -> None:
        if state == self._state:
            return
        self._state = state
        self._log.info("state", state=state.value, detail=detail, transport=self._transport)
        self._events.emit("state", state, detail)

    def _finish_login(self, error: ImError | None = None) -> None:
        """Settle what login() waits for, the first time only."""
        future = self._first_login
        if future is None or future.done():
            return
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)
            future.exception()  # marked as seen: login() may have timed out and nobody be waiting

    def _reconnect_now(self, reason: str) -> None:
        self._backoff.now_immediately()
        self._wake.set()
        if self._link is not None:
            self._log.info("link_drop", reason=reason)
            link = self._link
            self._spawn(link.close())

    def _running(self) -> bool:
        return not self._closed and self._terminal is None

    async def _sleep(self, seconds: float) -> None:
        """Sleep, but wake early for network_changed() / set_foreground(True) / close()."""
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    async def _manage(self) -> None:
        while self._running():
            delay = self._backoff.next_delay()
            if delay > 0:
                self._log.debug("reconnect_wait", seconds=round(delay, 3))
                await self._sleep(delay)
                if not self._running():
                    break
            if self._transport != "http":
                self._set_state(ConnectionState.CONNECTING)
            await self._refresh_lbs()
            candidates = self._ranker.rank(self._directory.websocket_candidates())
            self._log.info("race", candidates=candidates)
            result = await race(
                candidates,
                self._attempt,
                interval=self.options.race_interval,
                max_in_flight=self.options.max_in_flight,
                on_result=self._attempt_done,
                discard=self._discard,
            )
            if result.fatal is not None:
                cause = result.fatal.__cause__ or result.fatal
                error = cause if isinstance(cause, ImError) else ImError(errors.CONNECT_FAILED, str(cause))
                self._terminate(error)
                break
            if result.winner is None:
                self._all_failed_once = True
                if self._transport != "http":
                    self._set_state(ConnectionState.DISCONNECTED, "every endpoint failed")
                continue
            link, login_result = result.winner
            if not self._running():
                await link.close()
                break
            reason = await self._serve(link, login_result)
            self._link = None
            self._connection_lost(link.id)
            if self._transport == "websocket":
                self._transport = None
            self._log.info("link_lost", url=link.url, reason=reason)
            if self._running() and self._transport != "http":
                self._set_state(ConnectionState.DISCONNECTED, reason)

    async def _refresh_lbs(self) -> None:
        if not self.options.lbs_url or not self._directory.lbs_due():
            return
        try:
            answer = await fetch_lbs(self.options.lbs_url, self.options.app_key, self.options.lbs_timeout)
        except (OSError, ValueError) as exc:
            self._directory.lbs_failed()
            self._log.warning("lbs_failed", error=str(exc), cached=self._directory.cached is not None)
            return
        self._directory.store(answer.gateways, answer.http, answer.ttl)
        self._log.info("lbs", gateways=answer.gateways, http=answer.http, ttl=answer.ttl)

    def _login_frame(self, request_id: int) -> pb.Frame:
        return pb.Frame(
            request_id=request_id,
            login=pb.Login(
                app_key=self.options.app_key,
                accid=self._accid,
                token=self._token,
                device_id=self.options.device_id,
                platform=self.options.platform,
                client_version=CLIENT_VERSION,
                sync_cursor=self._cursor,
                # The longest interval we may ever use, so the server's idle timeout covers any of them.
                heartbeat_interval=int(self.options.heartbeat_max),
                protocol_version=PROTOCOL_VERSION,
            ),
        )

    async def _attempt(self, url: str) -> tuple[WsLink, pb.LoginResult]:
        """TCP + WebSocket handshake + login within `connect_timeout`."""
        self.stats["connect_attempts"] += 1
        link = WsLink(url, self.options.encoding)
        try:
            async with asyncio.timeout(self.options.connect_timeout):
                await link.open(self.options.connect_timeout)
                request_id = link.next_request_id()
                await link.send(self._login_frame(request_id))
                while True:
                    frame = await link.recv()
                    kind = frame.WhichOneof("body")
                    if kind == "login_result" and frame.request_id == request_id:
                        version = frame.login_result.protocol_version
                        if version != PROTOCOL_VERSION:
                            raise FatalAttempt() from ImError(
                                errors.PROTOCOL_MISMATCH,
                                f"the server speaks protocol {version}, this SDK {PROTOCOL_VERSION}",
                                server_version=version,
                            )
                        return link, frame.login_result
                    if kind == "error":
                        if frame.error.code in errors.AUTH_CODES:
                            raise FatalAttempt() from ImError(frame.error.code, frame.error.message)
                        raise ImError(frame.error.code, frame.error.message)
                    raise ImError(errors.GARBAGE_FRAME, f"{kind or 'an empty frame'} before the login result")
        except ImError as exc:
            if exc.code == errors.GARBAGE_FRAME:
                self._events.emit("error", exc)
            await link.close()
            raise
        except BaseException:
            await link.close()
            raise

    def _attempt_done(self, url: str, error: BaseException | None) -> None:
        if isinstance(error, FatalAttempt):
            self._log.warning("login_refused", url=url, error=repr(error.__cause__))
            return
        self._ranker.record(url, error is None)
        if error is None:
            self._log.info("connect_ok", url=url)
        else:
            self._log.warning("connect_failed", url=url, error=repr(error))

    async def _discard(self, winner: tuple[WsLink, pb.LoginResult]) -> None:
        await winner[0].close()

    def _terminate(self, error: ImError) -> None:
        """Kicked, refused or mismatched: stop for good and tell the app."""
        self._terminal = error
        self._log.error("terminal", code=error.code, message=error.message)
        if error.code == errors.KICKED:
            state = ConnectionState.KICKED
        elif error.code in errors.AUTH_CODES:
            state = ConnectionState.AUTH_FAILED
        else:
            state = ConnectionState.DISCONNECTED
        self._transport = None
        self._set_state(state, error.code)
        self._events.emit("error", error)
        self._finish_login(error)
        self._outbox.fail_all(error)
        self._wake.set()
        if self._link is not None:
            link = self._link
            self._spawn(link.close())

    async def _serve(self, link: WsLink, login_result: pb.LoginResult) -> str:
        self._link, self._transport, self.session = link, "websocket", login_result
        self._backoff.reset()
        self._all_failed_once = False
        self.stats["logins"] += 1
        self._last_rx, self._ping_sent_at = self._clock.monotonic(), None
        self._set_state(ConnectionState.CONNECTED, link.url)
        self._finish_login()
        reader = asyncio.get_running_loop().create_task(self._read(link))
        reason = "stopped"
        try:
            if not self._foreground:
                await self._fire(link, "app_state", pb.AppState(foreground=False))
            await self._flush(link)
            self._spawn(self._after_login())
            reason = await self._watch(link, reader)
            if reason != "pong_timeout" and self._ping_sent_at is not None and self._running():
                # Closed under an unanswered ping (a middlebox's reset after an idle spell): that
                # interval failed too, or probing would keep climbing into the same wall.
                self._heartbeat.on_failure()
                self._log.warning(
                    "heartbeat_failed",
                    interval=self._heartbeat.interval(),
                    phase=self._heartbeat.phase.value,
                    reason=reason,
                )
            return reason
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
            if reason in DEAD_LINK_REASONS:
                link.abort()
            else:
                await link.close()

    async def _watch(self, link: WsLink, reader: asyncio.Task[str]) -> str:
        options = self.options
        while True:
            done, _ = await asyncio.wait({reader}, timeout=WATCH_TICK)
            if done:
                return reader.result()
            if not self._running():
                return "stopped"
            now = self._clock.monotonic()
            if self._ping_sent_at is not None and now - self._ping_sent_at > options.pong_timeout:
                self._heartbeat.on_failure()
                self._log.warning(
                    "heartbeat_failed", interval=self._heartbeat.interval(), phase=self._heartbeat.phase.value
                )
                return "pong_timeout"
            stale = self._outbox.unanswered_since(link.id, now - options.first_response_timeout)
            if stale:
                self._log.warning("first_response_timeout", kinds=[p.kind for p in stale])
                return "first_response_timeout"
            if self._ping_sent_at is None and now - self._last_rx >= self._heartbeat.interval():
                self._ping_request_id = link.next_request_id()
                self._ping_sent_at = now
                ping = pb.Frame(
                    request_id=self._ping_request_id, ping=pb.Ping(client_time=int(self._clock.time() * 1000))
                )
                try:
                    await link.send(ping)
                except LinkClosed:
                    return "closed"

    async def _read(self, link: WsLink) -> str:
        while True:
            try:
                frame = await link.recv()
            except LinkClosed as exc:
                return f"closed ({exc.code})"
            except ImError as exc:
                self._log.error("garbage_frame", url=link.url, error=exc.message)
                self._events.emit("error", exc)
                self._ranker.record(link.url, False)
                return "garbage_frame"
            self._last_rx = self._clock.monotonic()
            if self._on_frame(link, frame) == "stop":
                return "kicked"

    def _on_frame(self, link: WsLink | None, frame: pb.Frame) -> str | None:
        kind = frame.WhichOneof("body")
        if frame.request_id:
            if link is not None and kind == "pong" and frame.request_id == self._ping_request_id:
                self._ping_sent_at = None
                self._heartbeat.on_success()
                self._log.debug(
                    "pong", interval=self._heartbeat.interval(), phase=self._heartbeat.phase.value
                )
                return None
            pending = self._outbox.on_link(link.id, frame.request_id) if link is not None else None
            if (
                pending is not None
                and link is not None
                and kind == "error"
                and frame.error.code == errors.RATE_LIMITED
            ):
                self._rate_limited(link, pending)
            elif pending is not None:
                self._complete(pending, frame)
            elif kind == "error":
                self._events.emit("error", ImError(frame.error.code, frame.error.message))
            return None
        if kind == "message":
            self._on_message(frame.message)
        elif kind == "sync_result":
            self._spawn(self._apply_listing(frame.sync_result))
        elif kind == "receipt":
            self._events.emit("receipt", frame.receipt)
        elif kind == "typing":
            self._events.emit("typing", frame.typing)
        elif kind == "team_notice":
            self._events.emit("team", frame.team_notice)
        elif kind == "kick":
            return self._on_kick(frame.kick)
        elif kind == "error":
            error = ImError(frame.error.code, frame.error.message, fatal=frame.error.fatal)
            self._log.warning("server_error", code=error.code, message=error.message)
            if error.code in errors.AUTH_CODES:
                self._terminate(error)
                return "stop"
            self._events.emit("error", error)
        else:
            self._log.debug("ignored_frame", kind=kind)
        return None

    def _on_kick(self, kick: pb.Kick) -> str | None:
        reason = pb.KickReason.Name(kick.reason)
        self._log.warning("kicked", reason=reason, detail=kick.detail)
        if kick.reason == pb.KICK_REASON_SERVER:
            return None  # the gateway is going away: the close follows and we reconnect elsewhere
        self._terminate(ImError(errors.KICKED, kick.detail or reason, reason=reason))
        return "stop"

    # --- delivery -----------------------------------------------------------------------------

    def _deliver(self, messages: list[pb.Message]) -> None:
        for message in messages:
            self._events.emit("message", message)
            if message.type == pb.MESSAGE_TYPE_RECALL:
                self._events.emit("recall", message)

    def _on_message(self, message: pb.Message) -> None:
        accepted = self._ordering.accept(message, new_since_listing=self._listed)
        self._deliver(accepted.deliver)
        if accepted.gap_after is not None:
            self._log.info("gap", target=message.target, held_seq=message.seq, after=accepted.gap_after)
            self._schedule_fetch(key_of(message), int(message.seq))

    async def _after_login(self) -> None:
        try:
            if not self._cursor:
                await self._sync_conversations()
            # With a cursor the server pushes the changed conversations itself (handled as they come).
            for key, _delivered in self._ordering.conversations().items():
                if self._ordering.pending_gap(key) is not None:
                    self._schedule_fetch(key)
        except ImError as exc:
            self._log.warning("sync_failed", error=exc.code)

    async def _sync_conversations(self) -> None:
        async with self._list_lock:
            while True:
                result = await self._rpc_sync(cursor=self._cursor)
                more = await self._apply_listing(result, follow=False)
                if not more:
                    return

    async def _apply_listing(self, result: pb.SyncResult, follow: bool = True) -> bool:
        """A page of the conversation list (a reply, or pushed after a login with a cursor)."""
        initial = not self._listed
        for summary in result.conversations:
            key: ConversationKey = (int(summary.conversation_type), summary.target)
            if self._ordering.note_last_seq(key, int(summary.last_seq), start_at_end=initial) is not None:
                self._schedule_fetch(key, int(summary.last_seq))
        if result.cursor:
            self._cursor = result.cursor
        if not result.has_more:
            self._listed = True
        elif follow:
            try:
                await self._sync_conversations()
            except ImError as exc:
                self._log.warning("sync_failed", error=exc.code)
        return bool(result.has_more)

    def _schedule_fetch(self, key: ConversationKey, until: int = 0) -> None:
        """Fetch the conversation after what was handed over, until `until` and no gap is left
        (a fetch already running takes the new target along)."""
        self._fetch_until[key] = max(self._fetch_until.get(key, 0), until)
        running = self._fetching.get(key)
        if running is not None and not running.done():
            return
        task = asyncio.get_running_loop().create_task(self._fetch_conversation(key))
        self._fetching[key] = task
        task.add_done_callback(lambda _task, key=key: self._fetch_done(key, _task))  # type: ignore[misc]

    def _fetch_done(self, key: ConversationKey, task: asyncio.Task[None]) -> None:
        if self._fetching.get(key) is task:
            del self._fetching[key]

    async def _fetch_conversation(self, key: ConversationKey) -> None:
        conversation_type, target = key
        stalled = 0
        try:
            while self._running():
                after = self._ordering.delivered(key) or 0
                result = await self._rpc_sync(
                    conversation_type=cast(pb.ConversationType, conversation_type),
                    target=target,
                    after_seq=after,
                    limit=100,
                )
                accepted = self._ordering.fill(
                    key, after, list(result.messages), complete=not result.has_more
                )
                self._deliver(accepted.deliver)
                if result.has_more:
                    continue
                reached = self._ordering.delivered(key) or 0
                if accepted.gap_after is None and reached >= self._fetch_until.get(key, 0):
                    return
                stalled = stalled + 1 if reached == after else 0
                if stalled >= 3:
                    self._log.warning("gap_unfilled", target=target, after=after)
                    return
        except ImError as exc:
            # Not connected or timed out: the next login's listing schedules it again.
            self._log.warning("fetch_failed", target=target, error=exc.code)

    # --- saved state ----------------------------------------------------------------------------

    async def _restore(self) -> None:
        """Pick up where the last client of this user left off (options.store)."""
        heartbeat = await self._keeper.load(HEARTBEAT_KEY)
        if heartbeat is not None:
            self._heartbeat.restore(heartbeat)
        session = await self._keeper.load(session_key(self.options.app_key, self._accid))
        if session is None:
            return
        delivered = session.get("delivered")
        for text, seq in (delivered if isinstance(delivered, dict) else {}).items():
            key = parse_conversation_id(str(text))
            if key is not None and isinstance(seq, int):
                self._ordering.restore(key, seq)
        cursor = session.get("cursor")
        if isinstance(cursor, str) and cursor:
            # Everything the server lists since this cursor is new to the app, including
            # conversations that began while no client ran: fetch those from their start.
            self._cursor = self._saved_cursor = cursor
            self._listed = True
        self._log.info(
            "state_restored", cursor=bool(self._cursor), conversations=len(self._ordering.conversations())
        )

    def _saved_state(self) -> dict[str, dict[str, Any]]:
        caught_up = not self._fetching and not self._list_lock.locked()
        if caught_up and not any(
            self._ordering.pending_gap(key) is not None for key in self._ordering.conversations()
        ):
            self._saved_cursor = self._cursor
        return {
            session_key(self.options.app_key, self._accid): delivered_document(
                self._saved_cursor, self._ordering.conversations()
            ),
            HEARTBEAT_KEY: self._heartbeat.export(),
        }

    async def _persist(self) -> None:
        while self._running():
            await asyncio.sleep(self.options.store_flush_interval)
            await self._keeper.save(self._saved_state())

    # --- short link -----------------------------------------------------------------------------

    def _http_headers(self) -> dict[str, str]:
        return {
            "X-IM-AppKey": self.options.app_key,
            "X-IM-Accid": self._accid,
            "X-IM-Token": self._token,
            "X-IM-Device-Id": self.options.device_id,
            "X-IM-Platform": str(int(self.options.platform)),
        }

    def _fallback_due(self) -> bool:
        if self._link is not None or not self._running():
            return False
        return self._all_failed_once or self._backoff.outage_age() >= self.options.http_fallback_after

    async def _short_link(self) -> None:
        while self._running():
            if self._transport != "http":
                if not self._fallback_due() or not self._directory.http_candidates():
                    await asyncio.sleep(WATCH_TICK)
                    continue
                if not await self._open_short_link():
                    await asyncio.sleep(self.options.http_poll_interval)
                    continue
            await asyncio.sleep(self.options.http_poll_interval)
            if self._transport != "http" or not self._running():
                continue
            if self._link is not None:
                self._leave_short_link("websocket is back")
                continue
            # Requests refused for the moment (429, 5xx) go again with the poll.
            for pending in self._outbox.in_order():
                if not pending.http_in_flight:
                    self._spawn(self._post_pending(pending))
            try:
                await self._sync_conversations()
            except ImError as exc:
                self._log.warning("http_poll_failed", error=exc.code)

    async def _open_short_link(self) -> bool:
        for base in self._directory.http_candidates():
            probe = pb.Frame(request_id=self._next_http_id(), sync=pb.SyncRequest(cursor=self._cursor))
            try:
                reply = await self._post(base, probe)
            except OSError as exc:
                self._log.warning("http_probe_failed", base=base, error=str(exc))
                continue
            frame = reply.frame
            kind = frame.WhichOneof("body") if frame is not None else None
            if frame is not None and kind == "error" and frame.error.code in errors.AUTH_CODES:
                self._terminate(ImError(frame.error.code, frame.error.message))
                return False
            if reply.status != 200 or frame is None or kind != "sync_result":
                self._log.warning("http_probe_failed", base=base, status=reply.status, kind=kind)
                continue
            if self._link is not None:
                return False
            self._http_base, self._transport = base, "http"
            self._log.info("short_link", base=base)
            self._set_state(ConnectionState.CONNECTED, base)
            self._finish_login()
            await self._apply_listing(frame.sync_result)
            for pending in self._outbox.in_order():
                self._spawn(self._post_pending(pending))
            return True
        return False

    def _leave_short_link(self, reason: str) -> None:
        self._log.info("short_link_closed", reason=reason)
        self._http_base = None
        if self._transport == "http":
            self._transport = "websocket" if self._link is not None else None
            if self._link is None:
                self._set_state(ConnectionState.DISCONNECTED, reason)

    def _next_http_id(self) -> int:
        self._http_request_ids += 1
        return self._http_request_ids

    async def _post(self, base: str, frame: pb.Frame) -> Any:
        self.stats["http_requests"] += 1
        async with self._http_lock:
            return await post_frame(
                base,
                frame,
                encoding=self.options.encoding,
                headers=self._http_headers(),
                timeout=self.options.http_timeout,
            )

    async def _post_pending(self, pending: Pending) -> None:
        base = self._http_base
        if base is None or pending.future.done() or pending.http_in_flight:
            return
        if pending.kind in NOT_OVER_HTTP:
            pending.future.set_exception(
                ImError(errors.UNSUPPORTED_OVER_HTTP, f"{pending.kind} needs the WebSocket")
            )
            return
        pending.http_in_flight = True
        try:
            while True:
                pending.attempts += 1
                try:
                    reply = await self._post(base, pending.frame(self._next_http_id()))
                except OSError as exc:
                    self._log.warning("http_failed", base=base, error=str(exc))
                    if not pending.idempotent and not pending.future.done():
                        # The POST may have reached the server: same as a link dying under it.
                        pending.future.set_exception(
                            ImError(errors.CONNECTION_LOST, f"the short link failed under {pending.kind}")
                        )
                    self._leave_short_link("http failed")
                    return
                if reply.status != 429:
                    break
                # Refused unprocessed: wait as told (Retry-After), within the request's total time.
                await asyncio.sleep(self._rate_limit_wait(pending, reply.retry_after))
                if pending.future.done() or self._http_base != base:
                    return
        finally:
            pending.http_in_flight = False
        frame = reply.frame
        if frame is None or frame.WhichOneof("body") is None:
            self._log.warning("http_no_frame", status=reply.status, kind=pending.kind)
            return
        if reply.status == 401 and frame.error.code in errors.AUTH_CODES:
            self._terminate(ImError(frame.error.code, frame.error.message))
            return
        self._complete(pending, frame)


def _message(
    target: str, team: bool, kind: pb.MessageType, client_msg_id: str | None, **content: Any
) -> pb.SendMessage:
    """A send of any type; the client_msg_id is fixed here, at call time, so every resend keeps it."""
    return pb.SendMessage(
        conversation_type=TEAM if team else P2P,
        target=target,
        type=kind,
        client_msg_id=client_msg_id or uuid.uuid4().hex,
        **content,
    )
