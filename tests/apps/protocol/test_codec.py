from __future__ import annotations

import pytest

from apps.protocol import codec
from apps.protocol.imcloud_pb2 import Frame


def _send_frame() -> Frame:
    frame = Frame(request_id=7)
    frame.send.target = "bob"
    frame.send.text = "héllo"
    frame.send.client_msg_id = "c-1"
    return frame


@pytest.mark.parametrize("encoding", list(codec.Encoding))
def test_a_frame_round_trips_in_both_encodings(encoding):
    wire = codec.encode(_send_frame(), encoding)
    text, data = (wire, None) if isinstance(wire, str) else (None, wire)
    assert codec.decode(text=text, data=data, encoding=encoding) == _send_frame()


def test_json_uses_the_canonical_mapping():
    assert codec.encode(_send_frame(), codec.Encoding.JSON) == (
        '{"requestId":"7","send":{"target":"bob","clientMsgId":"c-1","text":"héllo"}}'
    )


def test_proto_bytes_re_encode_to_the_same_json():
    frame = _send_frame()
    assert codec.proto_to_json(frame.SerializeToString()) == codec.encode_json(frame)


@pytest.mark.parametrize(
    ("text", "data", "encoding", "code"),
    [
        (None, b"\xff\xff\xff", codec.Encoding.PROTO, "malformed_frame"),
        ("{}", None, codec.Encoding.PROTO, "wrong_frame_kind"),
        (None, b"{}", codec.Encoding.JSON, "wrong_frame_kind"),
        ("{not json", None, codec.Encoding.JSON, "malformed_frame"),
        ('{"noSuchFrame": {}}', None, codec.Encoding.JSON, "malformed_frame"),
        ('{"requestId": "-1"}', None, codec.Encoding.JSON, "malformed_frame"),
        ("[1, 2]", None, codec.Encoding.JSON, "malformed_frame"),
    ],
)
def test_bad_frames_raise_a_decode_error_with_a_code(text, data, encoding, code):
    with pytest.raises(codec.FrameDecodeError) as caught:
        codec.decode(text=text, data=data, encoding=encoding)
    assert caught.value.code == code


@pytest.mark.parametrize(
    ("offered", "chosen"),
    [
        ([], codec.Encoding.JSON),
        (["imcloud.v1.proto"], codec.Encoding.PROTO),
        (["other", "imcloud.v1.json"], codec.Encoding.JSON),
        (["other"], None),
    ],
)
def test_the_encoding_follows_the_offered_subprotocols(offered, chosen):
    assert codec.choose_encoding(offered) is chosen
