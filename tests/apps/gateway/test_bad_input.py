"""Bad frames get an error frame with a code; recoverable ones leave the connection up."""

from __future__ import annotations

import pytest

from apps.messaging.models import Message
from apps.protocol import codec
from apps.protocol import imcloud_pb2 as pb
from tests.apps.gateway.conftest import db_async, p2p

pytestmark = pytest.mark.django_db(transaction=True)


async def _still_alive(client) -> bool:
    return (await client.request(ping=pb.Ping())).WhichOneof("body") == "pong"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"\xff\xff\xff\xff", "malformed_frame"),
        (b"\x0a\x05abc", "malformed_frame"),
        ("a text frame", "wrong_frame_kind"),
        (pb.Frame(request_id=3).SerializeToString(), "unknown_frame"),
        (b"\xa8\x1f\x01", "unknown_frame"),  # a field number from a future protocol version
    ],
)
async def test_malformed_and_unknown_frames_are_answered_and_survived(app, users, connect, raw, code):
    client = await connect("alice")
    await client.send_raw(raw)
    # Errors to frames without a pending request id reach the client as pushes.
    error = await client.next_push("error")
    assert error.error.code == code
    assert error.error.fatal is False
    assert await _still_alive(client)


@pytest.mark.parametrize(
    ("text", "code"),
    [("{not json", "malformed_frame"), ('{"noSuchFrame": {}}', "malformed_frame"), ("[]", "malformed_frame")],
)
async def test_bad_json_frames_are_answered_and_survived(app, users, connect, text, code):
    client = await connect("alice", encoding=codec.Encoding.JSON)
    await client.send_raw(text)
    assert (await client.next_push("error")).error.code == code
    assert await _still_alive(client)


async def test_server_only_frames_from_a_client_are_refused(app, users, connect):
    client = await connect("alice")
    refused = await client.request(pong=pb.Pong())
    assert refused.error.code == "unexpected_frame"


async def test_an_oversize_frame_is_refused_and_survived(app, users, connect, settings):
    settings.IMCLOUD = {**settings.IMCLOUD, "GATEWAY_MAX_FRAME_BYTES": 2048}
    client = await connect("alice")
    big = pb.Frame(request_id=1, send=pb.SendMessage(target="bob", text="x" * 4000, client_msg_id="big"))
    await client.send_raw(big.SerializeToString())
    assert (await client.next_push("error")).error.code == "frame_too_large"
    assert await db_async(Message.objects.count)() == 0
    assert await _still_alive(client)


async def test_a_flood_is_rate_limited_and_survived(app, users, connect, settings):
    settings.IMCLOUD = {**settings.IMCLOUD, "GATEWAY_RATE_PER_SECOND": 1, "GATEWAY_RATE_BURST": 3}
    client = await connect("alice")
    for n in range(6):
        await client.send_raw(pb.Frame(request_id=100 + n, ping=pb.Ping()).SerializeToString())
    errors = [await client.next_push("error") for _ in range(2)]
    assert {e.error.code for e in errors} == {"rate_limited"}
    # Each refusal names the refused request, so a client can send exactly that one again later.
    assert {e.request_id for e in errors} <= set(range(101, 106))


@pytest.mark.parametrize(
    ("send", "code"),
    [
        (
            pb.SendMessage(**p2p("nobody"), type=pb.MESSAGE_TYPE_TEXT, text="x", client_msg_id="c"),
            "no_such_user",
        ),
        (
            pb.SendMessage(
                conversation_type=pb.CONVERSATION_TYPE_TEAM,
                target="999999",
                type=pb.MESSAGE_TYPE_TEXT,
                text="x",
                client_msg_id="c",
            ),
            "no_such_team",
        ),
        (
            pb.SendMessage(
                conversation_type=pb.CONVERSATION_TYPE_TEAM,
                target="not-a-number",
                type=pb.MESSAGE_TYPE_TEXT,
                text="x",
                client_msg_id="c",
            ),
            "no_such_team",
        ),
        (
            pb.SendMessage(target="bob", type=pb.MESSAGE_TYPE_TEXT, text="x", client_msg_id="c"),
            "invalid_field",
        ),
        (pb.SendMessage(**p2p("bob"), type=pb.MESSAGE_TYPE_TEXT, text="x"), "invalid_field"),
        (
            pb.SendMessage(**p2p("bob"), type=pb.MESSAGE_TYPE_TEXT, text="", client_msg_id="c"),
            "invalid_field",
        ),
        (
            pb.SendMessage(**p2p("bob"), type=pb.MESSAGE_TYPE_TEXT, text="x" * 5001, client_msg_id="c"),
            "invalid_field",
        ),
        (pb.SendMessage(**p2p("bob"), type=pb.MESSAGE_TYPE_IMAGE, client_msg_id="c"), "invalid_field"),
        (
            pb.SendMessage(**p2p("bob"), type=pb.MESSAGE_TYPE_CUSTOM, custom="{oops", client_msg_id="c"),
            "invalid_field",
        ),
        (pb.SendMessage(**p2p("bob"), type=pb.MESSAGE_TYPE_RECALL, client_msg_id="c"), "invalid_field"),
        (pb.SendMessage(**p2p("bob"), type=pb.MESSAGE_TYPE_UNSPECIFIED, client_msg_id="c"), "invalid_field"),
        (
            pb.SendMessage(
                **p2p("bob"),
                type=pb.MESSAGE_TYPE_LOCATION,
                client_msg_id="c",
                location=pb.Location(latitude=91, longitude=0),
            ),
            "invalid_field",
        ),
    ],
)
async def test_bad_sends_store_nothing_and_name_their_problem(app, users, connect, send, code):
    client = await connect("alice")
    refused = await client.request(send=send)
    assert refused.error.code == code
    assert await db_async(Message.objects.count)() == 0
    assert await _still_alive(client)


async def test_sending_to_a_team_one_is_not_in_is_refused(app, users, connect):
    from apps.teams.services import team_create

    team = await db_async(team_create)(app=app, owner="bob", name="Not yours", members=["carol"])
    client = await connect("alice")
    refused = await client.send_text(str(team.pk), "let me in", "c-1", team=True)
    assert refused.error.code == "not_team_member"
    assert await db_async(Message.objects.count)() == 0
