"""Frames on the wire: binary protobuf or protobuf's canonical JSON mapping, by WebSocket subprotocol."""

from __future__ import annotations

import json
from enum import StrEnum

from google.protobuf import json_format
from google.protobuf.message import DecodeError

from apps.protocol.imcloud_pb2 import Frame

PROTOCOL_VERSION = 1


class Encoding(StrEnum):
    PROTO = "imcloud.v1.proto"
    JSON = "imcloud.v1.json"


SUBPROTOCOLS = (Encoding.PROTO.value, Encoding.JSON.value)


class FrameDecodeError(ValueError):
    """The bytes are not a Frame in the connection's encoding."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def choose_encoding(offered: list[str]) -> Encoding | None:
    """The first subprotocol the client offered that we speak; JSON when it offered none."""
    if not offered:
        return Encoding.JSON
    for name in offered:
        if name in SUBPROTOCOLS:
            return Encoding(name)
    return None


def decode(*, text: str | None, data: bytes | None, encoding: Encoding) -> Frame:
    frame = Frame()
    if encoding is Encoding.PROTO:
        if data is None:
            raise FrameDecodeError("wrong_frame_kind", "imcloud.v1.proto takes binary WebSocket messages")
        try:
            frame.ParseFromString(data)
        except DecodeError as exc:
            raise FrameDecodeError("malformed_frame", f"not a protobuf Frame: {exc}") from exc
        return frame
    if text is None:
        raise FrameDecodeError("wrong_frame_kind", "imcloud.v1.json takes text WebSocket messages")
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise FrameDecodeError("malformed_frame", f"not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise FrameDecodeError("malformed_frame", "a JSON frame is an object")
    try:
        json_format.ParseDict(value, frame)
    except (json_format.ParseError, RecursionError) as exc:
        raise FrameDecodeError("malformed_frame", f"not a JSON Frame: {exc}") from exc
    return frame


def encode_json(frame: Frame) -> str:
    return json.dumps(json_format.MessageToDict(frame), separators=(",", ":"), ensure_ascii=False)


def encode(frame: Frame, encoding: Encoding) -> bytes | str:
    if encoding is Encoding.PROTO:
        return frame.SerializeToString()
    return encode_json(frame)


def proto_to_json(data: bytes) -> str:
    """Re-encode an already serialised frame for a JSON client (fan-out encodes once per encoding)."""
    frame = Frame()
    frame.ParseFromString(data)
    return encode_json(frame)
