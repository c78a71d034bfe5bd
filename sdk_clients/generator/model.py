"""The protocol as the SDK emitters see it: messages, enums, and the Frame's requests and pushes.

Read from protocol/imcloud.proto through protoc's descriptor set (with source info for comments), so
the emitters never parse .proto text themselves and never import Django.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

from google.protobuf import descriptor_pb2

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PROTO = ROOT / "protocol" / "imcloud.proto"

# The Frame field options declared in imcloud.proto (`extend google.protobuf.FieldOptions`).
OPTION_REQUEST = 50001
OPTION_RESPONSE = 50002
OPTION_PUSH = 50003
OPTION_IDEMPOTENT = 50004

_FDP = descriptor_pb2.FieldDescriptorProto
_SCALARS = {
    _FDP.TYPE_STRING: "string",
    _FDP.TYPE_BYTES: "bytes",
    _FDP.TYPE_BOOL: "bool",
    _FDP.TYPE_DOUBLE: "double",
    _FDP.TYPE_FLOAT: "float",
    _FDP.TYPE_INT32: "int32",
    _FDP.TYPE_INT64: "int64",
    _FDP.TYPE_UINT32: "uint32",
    _FDP.TYPE_UINT64: "uint64",
    _FDP.TYPE_SINT32: "sint32",
    _FDP.TYPE_SINT64: "sint64",
    _FDP.TYPE_FIXED32: "fixed32",
    _FDP.TYPE_FIXED64: "fixed64",
    _FDP.TYPE_SFIXED32: "sfixed32",
    _FDP.TYPE_SFIXED64: "sfixed64",
}


@dataclass(frozen=True)
class Field:
    name: str
    number: int
    kind: Literal["scalar", "message", "enum"]
    # scalar: the proto type ("string", "uint64", ...); message/enum: the short name ("Attachment")
    type_name: str
    repeated: bool
    comment: str


@dataclass(frozen=True)
class Message:
    name: str
    fields: tuple[Field, ...]
    comment: str


@dataclass(frozen=True)
class EnumValue:
    name: str
    number: int
    comment: str


@dataclass(frozen=True)
class Enum:
    name: str
    values: tuple[EnumValue, ...]
    comment: str


@dataclass(frozen=True)
class Request:
    field: str  # the Frame field, e.g. "mark_read"
    message: Message  # e.g. MarkRead
    response: str | None  # the Frame field answering it, e.g. "mark_read_ack"; None when nothing does
    response_message: Message | None
    comment: str
    # The server answers a repeat the same way: safe to send again after a link died under it.
    idempotent: bool = False


@dataclass(frozen=True)
class Push:
    field: str
    message: Message


@dataclass(frozen=True)
class Protocol:
    package: str
    proto_path: Path
    messages: dict[str, Message]
    enums: dict[str, Enum]
    requests: tuple[Request, ...]
    pushes: tuple[Push, ...]


def protoc_include() -> Path:
    """grpc_tools' copy of the well-known protos (google/protobuf/descriptor.proto)."""
    return Path(str(resources.files("grpc_tools") / "_proto"))


def run_protoc(proto_path: Path, *args: str) -> None:
    """Run grpc_tools' bundled protoc on one .proto, its directory being the include root."""
    command = [
        sys.executable,
        "-m",
        "grpc_tools.protoc",
        f"-I{proto_path.parent}",
        f"-I{protoc_include()}",
        *args,
        str(proto_path),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise RuntimeError(f"protoc failed on {proto_path}:\n{done.stderr}")


def load_protocol(proto_path: Path = DEFAULT_PROTO) -> Protocol:
    proto_path = proto_path.resolve()
    with tempfile.TemporaryDirectory(prefix="imcloud-gen-") as tmp:
        out = Path(tmp) / "protocol.desc"
        run_protoc(proto_path, "--include_source_info", f"--descriptor_set_out={out}")
        descriptor_set = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    files = [f for f in descriptor_set.file if f.name == proto_path.name]
    if len(files) != 1:
        raise RuntimeError(f"protoc's descriptor set has no file {proto_path.name}")
    return _build(files[0], proto_path)


def _build(file: descriptor_pb2.FileDescriptorProto, proto_path: Path) -> Protocol:
    comments = _comments(file)
    enums = {
        enum.name: Enum(
            name=enum.name,
            values=tuple(
                EnumValue(value.name, value.number, comments.get((5, ei, 2, vi), ""))
                for vi, value in enumerate(enum.value)
            ),
            comment=comments.get((5, ei), ""),
        )
        for ei, enum in enumerate(file.enum_type)
    }
    messages: dict[str, Message] = {}
    frame_index = -1
    for mi, message in enumerate(file.message_type):
        if message.nested_type or message.enum_type:
            raise RuntimeError(f"{message.name}: nested types are not supported by the SDK generator")
        messages[message.name] = Message(
            name=message.name,
            fields=tuple(
                _field(field, comments.get((4, mi, 2, fi), "")) for fi, field in enumerate(message.field)
            ),
            comment=comments.get((4, mi), ""),
        )
        if message.name == "Frame":
            frame_index = mi
    if frame_index < 0:
        raise RuntimeError("the protocol has no Frame message")

    requests: list[Request] = []
    pushes: list[Push] = []
    frame = file.message_type[frame_index]
    by_name = {field.name: field for field in frame.field}
    for fi, field in enumerate(frame.field):
        if not field.HasField("oneof_index"):
            continue
        options = _options(field.options.SerializeToString())
        body = messages[_short(field.type_name)]
        if options.get(OPTION_REQUEST):
            response = options.get(OPTION_RESPONSE) or None
            response_message = None
            if isinstance(response, str):
                if response not in by_name:
                    raise RuntimeError(f"Frame.{field.name}: response {response!r} is not a Frame field")
                response_message = messages[_short(by_name[response].type_name)]
            requests.append(
                Request(
                    field=field.name,
                    message=body,
                    response=response if isinstance(response, str) else None,
                    response_message=response_message,
                    comment=comments.get((4, frame_index, 2, fi), "") or body.comment,
                    idempotent=bool(options.get(OPTION_IDEMPOTENT)),
                )
            )
        if options.get(OPTION_PUSH):
            pushes.append(Push(field=field.name, message=body))
    return Protocol(
        package=file.package,
        proto_path=proto_path,
        messages=messages,
        enums=enums,
        requests=tuple(requests),
        pushes=tuple(pushes),
    )


def _field(field: descriptor_pb2.FieldDescriptorProto, comment: str) -> Field:
    repeated = field.label == _FDP.LABEL_REPEATED
    if field.type == _FDP.TYPE_MESSAGE:
        return Field(field.name, field.number, "message", _short(field.type_name), repeated, comment)
    if field.type == _FDP.TYPE_ENUM:
        return Field(field.name, field.number, "enum", _short(field.type_name), repeated, comment)
    if field.type not in _SCALARS:
        raise RuntimeError(f"field {field.name}: unsupported type {field.type}")
    return Field(field.name, field.number, "scalar", _SCALARS[field.type], repeated, comment)


def _short(type_name: str) -> str:
    return type_name.rsplit(".", 1)[-1]


def _comments(file: descriptor_pb2.FileDescriptorProto) -> dict[tuple[int, ...], str]:
    found: dict[tuple[int, ...], str] = {}
    for location in file.source_code_info.location:
        text = location.leading_comments or location.trailing_comments
        if text.strip():
            lines = [line.strip() for line in text.strip().splitlines()]
            found[tuple(location.path)] = "\n".join(lines)
    return found


def _options(raw: bytes) -> dict[int, bool | str]:
    """Our custom options, read from FieldOptions' wire bytes.

    They arrive as unknown fields (or as extensions when imcloud_pb2 happens to be imported);
    reading the serialised bytes covers both without registering anything.
    """
    found: dict[int, bool | str] = {}
    pos = 0
    while pos < len(raw):
        key, pos = _varint(raw, pos)
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            value, pos = _varint(raw, pos)
            if number in (OPTION_REQUEST, OPTION_PUSH, OPTION_IDEMPOTENT):
                found[number] = bool(value)
        elif wire_type == 2:
            length, pos = _varint(raw, pos)
            chunk = raw[pos : pos + length]
            pos += length
            if number == OPTION_RESPONSE:
                found[number] = chunk.decode()
        elif wire_type == 1:
            pos += 8
        elif wire_type == 5:
            pos += 4
        else:
            raise RuntimeError(f"unexpected wire type {wire_type} in field options")
    return found


def _varint(raw: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = raw[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
