"""Frame handlers: each turns a request frame into one service or selector call and a reply."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from channels.db import database_sync_to_async

from apps.core.errors import DomainError
from apps.gateway.frames import ctype, message_proto
from apps.messaging import selectors, services
from apps.messaging.callback import cached_callback_config, callback_config, message_checked_by_app_server
from apps.messaging.content import Attachment, Location, MessageContent
from apps.messaging.models import Message
from apps.messaging.sending import SendRequest
from apps.protocol import imcloud_pb2 as pb
from apps.push import services as push_services

if TYPE_CHECKING:
    from apps.gateway.connection import Connection

Handler = Callable[["Connection", pb.Frame], Awaitable[None]]


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


async def ping(conn: Connection, frame: pb.Frame) -> None:
    await conn.reply(pb.Frame(request_id=frame.request_id, pong=pb.Pong(server_time=int(time.time() * 1000))))


async def send(conn: Connection, frame: pb.Frame) -> None:
    assert conn.session is not None
    assert conn.process is not None
    request = frame.send
    app, sender = conn.session.app, conn.session.user
    content = _content(request)
    config = cached_callback_config(app_id=app.pk) or await database_sync_to_async(callback_config)(app=app)
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
    outcome = await conn.process.sends.submit(
        SendRequest(
            app=app,
            sender=sender,
            conversation_type=request.conversation_type,
            target=request.target,
            client_msg_id=request.client_msg_id,
            content=content,
            origin_session=conn.session_id,
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
    await conn.reply(pb.Frame(request_id=frame.request_id, send_ack=ack))


def _message_out(message: Message, *, target: str, kind: int) -> pb.Message:
    return message_proto(message, target=target, from_accid=message.sender.accid, kind=kind)


def _conversation_sync(conn: Connection, cursor: str, limit: int) -> pb.SyncResult:
    assert conn.session is not None
    page = selectors.conversations_changed(
        app=conn.session.app, user=conn.session.user, cursor=cursor, limit=limit
    )
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


def _message_sync(conn: Connection, request: pb.SyncRequest) -> pb.SyncResult:
    assert conn.session is not None
    page = selectors.messages_page(
        app=conn.session.app,
        user=conn.session.user,
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


async def sync(conn: Connection, frame: pb.Frame) -> None:
    request = frame.sync
    if request.conversation_type == pb.CONVERSATION_TYPE_UNSPECIFIED:
        result = await database_sync_to_async(_conversation_sync)(conn, request.cursor, request.limit)
    else:
        result = await database_sync_to_async(_message_sync)(conn, request)
    await conn.reply(pb.Frame(request_id=frame.request_id, sync_result=result))


async def push_conversation_sync(conn: Connection, cursor: str) -> None:
    """After a login that carried a cursor: the conversations changed since, unasked."""
    try:
        result = await database_sync_to_async(_conversation_sync)(conn, cursor, 0)
    except DomainError as exc:
        await conn.error(0, exc.code, exc.detail)
        return
    await conn.reply(pb.Frame(sync_result=result))


async def mark_read(conn: Connection, frame: pb.Frame) -> None:
    assert conn.session is not None
    request = frame.mark_read
    stored = await database_sync_to_async(services.conversation_mark_read)(
        app=conn.session.app,
        user=conn.session.user,
        conversation_type=request.conversation_type,
        target=request.target,
        seq=request.seq,
        origin_session=conn.session_id,
    )
    ack = pb.MarkReadAck(conversation_type=request.conversation_type, target=request.target, read_seq=stored)
    await conn.reply(pb.Frame(request_id=frame.request_id, mark_read_ack=ack))


async def recall(conn: Connection, frame: pb.Frame) -> None:
    assert conn.session is not None
    request = frame.recall
    result = await database_sync_to_async(services.message_recall)(
        app=conn.session.app,
        actor=conn.session.user,
        conversation_type=request.conversation_type,
        target=request.target,
        server_msg_id=request.server_msg_id,
    )
    ack = pb.RecallAck(server_msg_id=str(result.original.pk), notice_seq=result.notice.seq)
    await conn.reply(pb.Frame(request_id=frame.request_id, recall_ack=ack))


async def typing(conn: Connection, frame: pb.Frame) -> None:
    assert conn.session is not None
    await database_sync_to_async(services.typing_notify)(
        app=conn.session.app,
        user=conn.session.user,
        conversation_type=frame.typing.conversation_type,
        target=frame.typing.target,
    )


async def read_status(conn: Connection, frame: pb.Frame) -> None:
    assert conn.session is not None
    request = frame.read_status
    status = await database_sync_to_async(selectors.team_read_status)(
        app=conn.session.app, user=conn.session.user, team_id=request.team_id, seq=request.seq
    )
    result = pb.ReadStatusResult(
        team_id=request.team_id, seq=request.seq, read_accids=status.read, unread_accids=status.unread
    )
    await conn.reply(pb.Frame(request_id=frame.request_id, read_status_result=result))


async def logout(conn: Connection, frame: pb.Frame) -> None:
    assert conn.session is not None
    conn.close_reason = "logout"
    # A logged-out device must not be pushed to.
    await database_sync_to_async(push_services.device_unregister)(
        user=conn.session.user, device_id=conn.device_id
    )
    await conn.close(1000)


PROVIDER_NAMES = {
    pb.PUSH_PROVIDER_APNS: "apns",
    pb.PUSH_PROVIDER_FCM: "fcm",
    pb.PUSH_PROVIDER_WEBPUSH: "webpush",
    pb.PUSH_PROVIDER_HUAWEI: "huawei",
    pb.PUSH_PROVIDER_XIAOMI: "xiaomi",
}


async def _ack(conn: Connection, frame: pb.Frame) -> None:
    await conn.reply(pb.Frame(request_id=frame.request_id, ack=pb.Ack()))


async def register_device(conn: Connection, frame: pb.Frame) -> None:
    assert conn.session is not None
    request = frame.register_device
    await database_sync_to_async(push_services.device_register)(
        app=conn.session.app,
        user=conn.session.user,
        device_id=conn.device_id,
        provider=PROVIDER_NAMES.get(request.provider, ""),
        token=request.token,
        p256dh=request.p256dh,
        auth=request.auth,
        bundle_id=request.bundle_id,
        locale=request.locale,
    )
    await _ack(conn, frame)


async def unregister_device(conn: Connection, frame: pb.Frame) -> None:
    assert conn.session is not None
    await database_sync_to_async(push_services.device_unregister)(
        user=conn.session.user, device_id=conn.device_id
    )
    await _ack(conn, frame)


async def app_state(conn: Connection, frame: pb.Frame) -> None:
    assert conn.session is not None
    await database_sync_to_async(push_services.device_set_foreground)(
        user=conn.session.user, device_id=conn.device_id, foreground=frame.app_state.foreground
    )
    await _ack(conn, frame)


async def set_push_mute(conn: Connection, frame: pb.Frame) -> None:
    assert conn.session is not None
    request = frame.set_push_mute
    await database_sync_to_async(push_services.conversation_set_push_mute)(
        app=conn.session.app,
        user=conn.session.user,
        conversation_type=request.conversation_type,
        target=request.target,
        muted=request.muted,
    )
    await _ack(conn, frame)


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
}
