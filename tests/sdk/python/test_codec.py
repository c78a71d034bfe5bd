from __future__ import annotations

import json

import pytest
from imcloud_sdk import ImError, pb
from imcloud_sdk.codec import decode, encode

FRAME = pb.Frame(request_id=7, send=pb.SendMessage(target="bob", text="hi", client_msg_id="c1"))


@pytest.mark.parametrize("encoding", ["proto", "json"])
def test_a_frame_survives_both_encodings(encoding: str):
    assert decode(encode(FRAME, encoding), encoding) == FRAME


def test_json_is_the_canonical_mapping_the_gateway_speaks():
    assert json.loads(encode(FRAME, "json")) == {
        "requestId": "7",
        "send": {"target": "bob", "text": "hi", "clientMsgId": "c1"},
    }


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (b"\xff\xff\xff", "proto"),
        ("text on a binary link", "proto"),
        ("[1, 2]", "json"),
        ("{not json", "json"),
    ],
)
def test_garbage_is_an_im_error(data: bytes | str, encoding: str):
    with pytest.raises(ImError) as garbage:
        decode(data, encoding)
    assert garbage.value.code == "garbage_frame"
