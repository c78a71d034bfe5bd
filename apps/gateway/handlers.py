"""Frame handlers: each turns a request frame into one service or selector call and its reply.

The same functions serve both client transports, the WebSocket gateway (apps/gateway/connection.py)
and the HTTP short link (apps/api/client_frames.py): a handler gets the ``Caller`` (the
authenticated session, and how this transport stores a send) and returns the reply frame, or None
when the request has none. Each transport writes the reply and turns a ``DomainError`` into an
``error`` frame with its code.
"""

from __future__ import annotations

import asyncio
import time

from apps.core.errors import DomainError
from apps.gateway import team_handlers
from apps.gateway.caller import Caller, Handler, Reply, ack, error_frame
from apps.gateway.db import db
from apps.gateway.frames import ctype, message_proto
from apps.messaging import selectors, services
from apps.messaging.callback import cached_callback_config, callback_config, message_checked_by_app_server
from apps.messaging.content import Attachment, Location, MessageContent
from apps.messaging.models import Message
from apps.messaging.sending import SendRequest
from apps.protocol import imcloud_pb2 as pb
from apps.push import services as push_services


def _content(send: pb.SendMessage) -> MessageContent:
    attachment = None
    if send.HasField("attachment"):
        a = send.attachment
        attachment = Attachment(
            url=a.url, name=a.name, size=a.size, mime_type=a.mime_type, md5=a.md5,
            width=a.width, height=a.height, duration_ms=a.duration_ms,
        )  # fmt: skip
    location = None
    if send.HasField("location"):
        location = Location(
            latitude=send.location.latitude, longitude=send.location.longitude, title=send.location.title
        )
    return MessageContent(
        type=send.type,
        text=send.text,
        attachment=attachment,
        location=location,
        custom=send.custom,
        ext=send.ext,
        push=not send.no_push,
    )


async def ping(caller: Caller, frame: pb.Frame) -> Reply:
    return pb.Frame(request_id=frame.request_id, pong=pb.Pong(server_time=int(time.time() * 1000)))


async def send(caller: Caller, frame: pb.Frame) -> Reply:
    request = frame.send
    app, sender = caller.app, caller.user
    content = _content(request)
    config = cached_callback_config(app_id=app.pk) or await db(callback_config)(app=app)
    if config.callback_url:
        # The app server's answer may take up to its timeout: wait for it off the event loop and
        # off the database thread.
        content = await asyncio.to_thread(
            message_checked_by_app_server,
            app=app,
            sender=sender,
            conversation_type=request.conversation_type,
            target=request.target,
            client_msg_id=request.client_msg_id,
            content=content,
            config=config,
        )
    outcome = await caller.submit(
        SendRequest(
            app=app,
            sender=sender,
            conversation_type=request.conversation_type,
            target=request.target,
            client_msg_id=request.client_msg_id,
            content=content,
            origin_session=caller.session_id,
        )
    )
    if isinstance(outcome, DomainError):
        raise outcome
    result = outcome
    message = result.message
    ack = pb.SendAck(
        client_msg_id=message.client_msg_id,
        server_msg_id=str(message.pk),
        seq=message.seq,
        server_time=message.created_ms,
        conversation_type=ctype(result.place.conversation.kind),
        target=result.place.target,
        duplicate=result.duplicate,
    )
    return pb.Frame(request_id=frame.request_id, send_ack=ack)


def _message_out(message: Message, *, target: str, kind: int) -> pb.Message:
    return message_proto(message, target=target, from_accid=message.sender.accid, kind=kind)


def _conversation_sync(caller: Caller, cursor: str, limit: int) -> pb.SyncResult:
    page = selectors.conversations_changed(app=caller.app, user=caller.user, cursor=cursor, limit=limit)
    result = pb.SyncResult(cursor=page.cursor, has_more=page.has_more)
    for summary in page.summaries:
        kind = summary.conversation.kind
        out = result.conversations.add(
            conversation_type=ctype(kind),
            target=summary.target,
            last_seq=summary.conversation.last_seq,
            read_seq=summary.read_seq,
            peer_read_seq=summary.peer_read_seq,
            unread=summary.unread,
            updated_at=summary.changed_ms,
        )
        if summary.last_message is not None:
            out.last_message.CopyFrom(_message_out(summary.last_message, target=summary.target, kind=kind))
    return result


def _message_sync(caller: Caller, request: pb.SyncRequest) -> pb.SyncResult:
    page = selectors.messages_page(
        app=caller.app,
        user=caller.user,
        conversation_type=request.conversation_type,
        target=request.target,
        after_seq=request.after_seq,
        before_seq=request.before_seq,
        limit=request.limit,
    )
    result = pb.SyncResult(has_more=page.has_more)
    for message in page.messages:
        result.messages.append(_message_out(message, target=request.target, kind=request.conversation_type))
    return result


async def sync(caller: Caller, frame: pb.Frame) -> Reply:
    request = frame.sync
    if request.conversation_type == pb.CONVERSATION_TYPE_UNSPECIFIED:
        result = await db(_conversation_sync)(caller, request.cursor, request.limit)
    else:
        result = await db(_message_sync)(caller, request)
    return pb.Frame(request_id=frame.request_id, sync_result=result)


async def conversation_sync_push(caller: Caller, cursor: str) -> pb.Frame:
    """After a login that carried a cursor: the conversations changed since, unasked."""
    try:
        result = await db(_conversation_sync)(caller, cursor, 0)
    except DomainError as exc:
        return error_frame(0, exc.code, exc.detail)
    return pb.Frame(sync_result=result)


async def mark_read(caller: Caller, frame: pb.Frame) -> Reply:
    request = frame.mark_read
    stored = await db(services.conversation_mark_read)(
        app=caller.app,
        user=caller.user,
        conversation_type=request.conversation_type,
        target=request.target,
        seq=request.seq,
        origin_session=caller.session_id,
    )
    ack = pb.MarkReadAck(conversation_type=request.conversation_type, target=request.target, read_seq=stored)
    return pb.Frame(request_id=frame.request_id, mark_read_ack=ack)


async def recall(caller: Caller, frame: pb.Frame) -> Reply:
    request = frame.recall
    result = await db(services.message_recall)(
        app=caller.app,
        actor=caller.user,
        conversation_type=request.conversation_type,
        target=request.target,
        server_msg_id=request.server_msg_id,
    )
    ack = pb.RecallAck(server_msg_id=str(result.original.pk), notice_seq=result.notice.seq)
    return pb.Frame(request_id=frame.request_id, recall_ack=ack)


async def typing(caller: Caller, frame: pb.Frame) -> Reply:
    await db(services.typing_notify)(
        app=caller.app,
        user=caller.user,
        conversation_type=frame.typing.conversation_type,
        target=frame.typing.target,
    )
    return None


async def read_status(caller: Caller, frame: pb.Frame) -> Reply:
    request = frame.read_status
    status = await db(selectors.team_read_status)(
        app=caller.app, user=caller.user, team_id=request.team_id, seq=request.seq
    )
    result = pb.ReadStatusResult(
        team_id=request.team_id, seq=request.seq, read_accids=status.read, unread_accids=status.unread
    )
    return pb.Frame(request_id=frame.request_id, read_status_result=result)


async def logout(caller: Caller, frame: pb.Frame) -> Reply:
    # A logged-out device must not be pushed to. The connection closes after this (no reply).
    await db(push_services.device_unregister)(user=caller.user, device_id=caller.device_id)
    return None


PROVIDER_NAMES = {
    pb.PUSH_PROVIDER_APNS: "apns",
    pb.PUSH_PROVIDER_FCM: "fcm",
    pb.PUSH_PROVIDER_WEBPUSH: "webpush",
    pb.PUSH_PROVIDER_HUAWEI: "huawei",
    pb.PUSH_PROVIDER_XIAOMI: "xiaomi",
}


async def register_device(caller: Caller, frame: pb.Frame) -> Reply:
    request = frame.register_device
    await db(push_services.device_register)(
        app=caller.app,
        user=caller.user,
        device_id=caller.device_id,
        provider=PROVIDER_NAMES.get(request.provider, ""),
        token=request.token,
        p256dh=request.p256dh,
        auth=request.auth,
        bundle_id=request.bundle_id,
        locale=request.locale,
    )
    return ack(frame)


async def unregister_device(caller: Caller, frame: pb.Frame) -> Reply:
    await db(push_services.device_unregister)(user=caller.user, device_id=caller.device_id)
    return ack(frame)


async def app_state(caller: Caller, frame: pb.Frame) -> Reply:
    await db(push_services.device_set_foreground)(
        user=caller.user, device_id=caller.device_id, foreground=frame.app_state.foreground
    )
    return ack(frame)


async def set_push_mute(caller: Caller, frame: pb.Frame) -> Reply:
    request = frame.set_push_mute
    await db(push_services.conversation_set_push_mute)(
        app=caller.app,
        user=caller.user,
        conversation_type=request.conversation_type,
        target=request.target,
        muted=request.muted,
    )
    return ack(frame)


# Every frame a client may send once logged in (login itself is the transport's business).
HANDLERS: dict[str, Handler] = {
    "ping": ping,
    "send": send,
    "sync": sync,
    "mark_read": mark_read,
    "recall": recall,
    "typing": typing,
    "read_status": read_status,
    "logout": logout,
    "register_device": register_device,
    "unregister_device": unregister_device,
    "app_state": app_state,
    "set_push_mute": set_push_mute,
    **team_handlers.HANDLERS,
}


async def answer(caller: Caller, frame: pb.Frame, handler: Handler) -> Reply:
    """The reply to one request frame; a refusal by the domain is an ``error`` frame with its code.
    Anything else propagates: each transport reports it in its own way."""
    try:
        return await handler(caller, frame)
    except DomainError as exc:
        return error_frame(frame.request_id, exc.code, exc.detail)
