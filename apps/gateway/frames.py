"""Protocol frames built from domain objects: one place that maps models onto imcloud.v1."""

from __future__ import annotations

from typing import Any, cast

from apps.messaging.models import Message
from apps.protocol import imcloud_pb2 as pb


def ctype(kind: int) -> pb.ConversationType:
    """A stored conversation kind as the protocol enum (the values are the same by design)."""
    return cast("pb.ConversationType", kind)


def message_proto(message: Message, *, target: str, from_accid: str, kind: int) -> pb.Message:
    body: dict[str, Any] = message.body or {}
    out = pb.Message(
        server_msg_id=str(message.pk),
        conversation_type=ctype(kind),
        target=target,
        from_accid=from_accid,
        seq=message.seq,
        server_time=message.created_ms,
        type=cast("pb.MessageType", message.type),
        client_msg_id=message.client_msg_id,
        text=body.get("text", ""),
        custom=body.get("custom", ""),
        ext=body.get("ext", ""),
        recalled=message.recalled,
        recalled_seq=message.recalled_seq or 0,
    )
    if "attachment" in body:
        out.attachment.CopyFrom(pb.Attachment(**body["attachment"]))
    if "location" in body:
        out.location.CopyFrom(pb.Location(**body["location"]))
    return out


def push_frame(**body: Any) -> bytes:
    """A server push (request_id 0) serialised once, to be written to every recipient."""
    return pb.Frame(**body).SerializeToString()
