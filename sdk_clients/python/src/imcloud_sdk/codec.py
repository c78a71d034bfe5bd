"""Frames to and from the wire: binary protobuf, or protobuf's canonical JSON (as the gateway speaks)."""

from __future__ import annotations

import json

from google.protobuf import json_format
from google.protobuf.message import DecodeError

from imcloud_sdk._generated import imcloud_pb2 as pb
from imcloud_sdk.errors import GARBAGE_FRAME, ImError

SUBPROTOCOLS = {"proto": "imcloud.v1.proto", "json": "imcloud.v1.json"}
CONTENT_TYPES = {"proto": "application/x-protobuf", "json": "application/json"}


def encode(frame: pb.Frame, encoding: str) -> bytes | str:
    if encoding == "proto":
        return frame.SerializeToString()
    return json.dumps(json_format.MessageToDict(frame), separators=(",", ":"), ensure_ascii=False)


def decode(data: bytes | str, encoding: str) -> pb.Frame:
    """Raises ImError(garbage_frame) for anything that is not a Frame in this encoding."""
    frame = pb.Frame()
    try:
        if encoding == "proto":
            if isinstance(data, str):
                raise ImError(GARBAGE_FRAME, "a text message on a binary (imcloud.v1.proto) link")
            frame.ParseFromString(data)
        else:
            text = data.decode() if isinstance(data, bytes) else data
            value = json.loads(text)
            if not isinstance(value, dict):
                raise ImError(GARBAGE_FRAME, "a JSON frame is an object")
            json_format.ParseDict(value, frame, ignore_unknown_fields=True)
    except (DecodeError, ValueError, json_format.ParseError, RecursionError) as exc:
        raise ImError(GARBAGE_FRAME, f"undecodable frame: {exc}") from exc
    return frame
