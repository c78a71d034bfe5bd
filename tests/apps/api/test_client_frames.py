"""POST /api/v1/client/frames: the short link answers like the WebSocket, in the body's encoding."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from apps.api import client_frames
from apps.gateway import handlers
from apps.messaging.models import ConversationMember, Message
from apps.protocol import codec
from apps.protocol import imcloud_pb2 as pb
from apps.push.models import Device
from apps.teams.models import Team
from apps.teams.services import team_create
from tests.apps.gateway.conftest import db_async
from tests.factories import DEFAULT_TOKEN, AppFactory, ImUserFactory
from tests.gateway_communicator import CommClient
from tests.teams_factories import members_of

# The handlers run through database_sync_to_async, which must not meet a test's open transaction.
pytestmark = pytest.mark.django_db(transaction=True)

URL = "/api/v1/client/frames"
PROTO, JSON = "application/x-protobuf", "application/json"
P2P, TEAM = pb.CONVERSATION_TYPE_P2P, pb.CONVERSATION_TYPE_TEAM
APNS_TOKEN = "c3" * 32


@pytest.fixture
def app() -> Any:
    app = AppFactory()
    for accid in ("alice", "bob", "carol"):
        ImUserFactory(app=app, accid=accid)
    return app


def credentials(app: Any, accid: str = "alice", **overrides: str) -> dict[str, str]:
    headers = {
        "X-IM-AppKey": app.app_key,
        "X-IM-Accid": accid,
        "X-IM-Token": DEFAULT_TOKEN,
        "X-IM-Device-Id": f"{accid}-phone",
        "X-IM-Platform": str(pb.PLATFORM_ANDROID),
    }
    headers.update(overrides)
    return headers


def post_raw(body: bytes, content_type: str, headers: dict[str, str]) -> Any:
    # SDKs may say what they accept; the reply follows the body's encoding either way.
    accept = {"Accept": content_type}
    return Client().post(URL, body, content_type=content_type, headers={**accept, **headers})


def decoded(response: Any) -> pb.Frame:
    media = response["Content-Type"]
    encoding = codec.Encoding.PROTO if media == PROTO else codec.Encoding.JSON
    if encoding is codec.Encoding.PROTO:
        return codec.decode(text=None, data=response.content, encoding=encoding)
    return codec.decode(text=response.content.decode(), data=None, encoding=encoding)


def call(app: Any, media: str = PROTO, accid: str = "alice", request_id: int = 7, **body: Any) -> pb.Frame:
    """Send one frame; expect 200 in the same encoding; return the reply."""
    frame = pb.Frame(request_id=request_id, **body)
    raw = frame.SerializeToString() if media == PROTO else codec.encode_json(frame).encode()
    response = post_raw(raw, media, credentials(app, accid))
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == media
    reply = decoded(response)
    assert reply.request_id == request_id
    return reply


def text(target: str, body: str, client_msg_id: str, kind: int = P2P) -> pb.SendMessage:
    return pb.SendMessage(
        conversation_type=kind,  # type: ignore[arg-type]
        target=target,
        type=pb.MESSAGE_TYPE_TEXT,
        text=body,
        client_msg_id=client_msg_id,
    )


both = pytest.mark.parametrize("media", [PROTO, JSON])


# --- each frame kind, in both encodings ----------------------------------------------------------


@both
def test_a_send_is_stored_acked_and_idempotent(app, media):
    first = call(app, media, send=text("bob", "over http", "h-1")).send_ack
    retry = call(app, media, send=text("bob", "over http", "h-1")).send_ack
    stored = Message.objects.get(app=app)
    assert (first.seq, first.target, first.duplicate, first.client_msg_id) == (1, "bob", False, "h-1")
    assert (retry.server_msg_id, retry.seq, retry.duplicate) == (first.server_msg_id, 1, True)
    assert (str(stored.pk), stored.body["text"]) == (first.server_msg_id, "over http")


@both
def test_sync_reads_the_conversation_list_and_messages(app, media):
    for n in range(3):
        call(app, media, accid="bob", send=text("alice", f"m{n}", f"b-{n}"))
    listing = call(app, media, sync=pb.SyncRequest()).sync_result
    page = call(app, media, sync=pb.SyncRequest(conversation_type=P2P, target="bob", after_seq=1)).sync_result
    (summary,) = listing.conversations
    assert (summary.target, summary.last_seq, summary.unread, summary.last_message.text) == (
        "bob",
        3,
        3,
        "m2",
    )
    assert listing.cursor
    assert [(m.seq, m.text, m.from_accid) for m in page.messages] == [(2, "m1", "bob"), (3, "m2", "bob")]


@both
def test_mark_read_recall_and_read_status(app, media):
    team = team_create(app=app, owner="alice", name="Crew", members=["bob", "carol"])
    sent = call(app, media, send=text(str(team.pk), "hello", "t-1", TEAM)).send_ack
    read = call(
        app, media, accid="bob", mark_read=pb.MarkRead(conversation_type=TEAM, target=str(team.pk), seq=1)
    )
    status = call(app, media, read_status=pb.ReadStatusRequest(team_id=str(team.pk), seq=1))
    recall = call(
        app,
        media,
        recall=pb.Recall(conversation_type=TEAM, target=str(team.pk), server_msg_id=sent.server_msg_id),
    )
    assert read.mark_read_ack.read_seq == 1
    assert (list(status.read_status_result.read_accids), list(status.read_status_result.unread_accids)) == (
        ["bob"],
        ["carol"],
    )
    assert (recall.recall_ack.server_msg_id, recall.recall_ack.notice_seq) == (sent.server_msg_id, 2)


@both
def test_push_registration_and_mutes_are_acked(app, media):
    device = pb.RegisterDevice(provider=pb.PUSH_PROVIDER_APNS, token=APNS_TOKEN, bundle_id="com.example")
    registered = call(app, media, register_device=device)
    row = Device.objects.get(user__app=app, user__accid="alice")
    muted = call(app, media, set_push_mute=pb.SetPushMute(conversation_type=P2P, target="bob", muted=True))
    mute_row = ConversationMember.objects.get(app=app, user__accid="alice")
    unregistered = call(app, media, unregister_device=pb.UnregisterDevice())
    assert [f.WhichOneof("body") for f in (registered, muted, unregistered)] == ["ack"] * 3
    assert (row.device_id, row.provider, row.token) == ("alice-phone", "apns", APNS_TOKEN)
    assert mute_row.push_muted is True
    assert not Device.objects.filter(user__app=app).exists()


@both
def test_every_team_frame(app, media):
    info = call(app, media, create_team=pb.CreateTeam(name="Crew", members=["bob"])).team_info
    team_id = info.team_id
    got = call(app, media, get_team=pb.GetTeam(team_id=team_id)).team_info
    listed = call(app, media, list_my_teams=pb.ListMyTeams()).team_list
    added = call(app, media, add_team_members=pb.AddTeamMembers(team_id=team_id, accids=["carol"])).team_info
    members = call(app, media, list_team_members=pb.ListTeamMembers(team_id=team_id)).team_members
    removed = call(app, media, remove_team_members=pb.RemoveTeamMembers(team_id=team_id, accids=["carol"]))
    left = call(app, media, accid="bob", leave_team=pb.LeaveTeam(team_id=team_id))
    dismissed = call(app, media, dismiss_team=pb.DismissTeam(team_id=team_id))
    assert (info.owner, info.member_count) == ("alice", 2)
    assert (got.team_id, got.name) == (team_id, "Crew")
    assert [t.team_id for t in listed.teams] == [team_id]
    assert added.member_count == 3
    assert [(m.accid, m.role) for m in members.members] == [
        ("alice", pb.TEAM_ROLE_OWNER),
        ("bob", pb.TEAM_ROLE_MEMBER),
        ("carol", pb.TEAM_ROLE_MEMBER),
    ]
    assert members.cursor == ""
    assert removed.team_info.member_count == 2
    assert (left.WhichOneof("body"), dismissed.WhichOneof("body")) == ("ack", "ack")
    assert Team.objects.get(pk=int(team_id)).conversation.closed is True


@both
def test_a_refusal_is_an_error_frame_with_the_websockets_code(app, media):
    ghost = call(app, media, send=text("ghost", "hi", "g-1")).error
    no_id = call(app, media, send=text("bob", "hi", "")).error
    nameless = call(app, media, accid="bob", create_team=pb.CreateTeam(name="")).error
    team = team_create(app=app, owner="alice", name="Crew", members=["bob"])
    not_owner = call(app, media, accid="bob", dismiss_team=pb.DismissTeam(team_id=str(team.pk))).error
    assert (ghost.code, ghost.fatal) == ("no_such_user", False)
    assert no_id.code == "invalid_field"
    assert nameless.code == "invalid_field"
    assert not_owner.code == "not_team_owner"
    assert Message.objects.filter(app=app).count() == 0


# --- refusals before any handler -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "status", "code"),
    [
        ({"X-IM-AppKey": "f" * 32}, 401, "unknown_app"),
        ({"X-IM-AppKey": ""}, 401, "unknown_app"),
        ({"X-IM-Token": "wrong"}, 401, "bad_credentials"),
        ({"X-IM-Accid": "ghost"}, 401, "bad_credentials"),
        ({"X-IM-Platform": "android"}, 400, "invalid_field"),
        ({"X-IM-Platform": "99"}, 400, "invalid_field"),
        ({"X-IM-Device-Id": ""}, 400, "invalid_field"),
        ({"X-IM-Device-Id": "d" * 65}, 400, "invalid_field"),
    ],
)
@both
def test_bad_credentials_are_refused_with_an_error_frame(app, media, overrides, status, code):
    frame = pb.Frame(request_id=3, send=text("bob", "hi", "x-1"))
    raw = frame.SerializeToString() if media == PROTO else codec.encode_json(frame).encode()
    response = post_raw(raw, media, credentials(app, **overrides))
    reply = decoded(response)
    assert (response.status_code, response["Content-Type"]) == (status, media)
    assert (reply.request_id, reply.error.code) == (3, code)
    assert Message.objects.filter(app=app).count() == 0


def test_a_blocked_user_is_refused(app):
    ImUserFactory(app=app, accid="mallory", is_blocked=True)
    frame = pb.Frame(request_id=1, sync=pb.SyncRequest())
    response = post_raw(frame.SerializeToString(), PROTO, credentials(app, "mallory"))
    assert (response.status_code, decoded(response).error.code) == (401, "blocked")


@pytest.mark.parametrize(
    ("media", "body", "code"),
    [
        (PROTO, b"\xff\xff\xff", "malformed_frame"),
        (JSON, b"{not json", "malformed_frame"),
        (JSON, b"[1, 2]", "malformed_frame"),
        (JSON, b'{"requestId": "1", "nosuch": {}}', "malformed_frame"),
        (JSON, b'{"requestId": "\xff"}', "malformed_frame"),
        (PROTO, b"\x08\x01", "unknown_frame"),  # request_id 1 and no body
        (JSON, b"{}", "unknown_frame"),
        (JSON, b'{"requestId": "1", "pong": {}}', "unexpected_frame"),
        (JSON, b'{"requestId": "1", "sendAck": {}}', "unexpected_frame"),
    ],
)
def test_a_malformed_body_is_bad_input(app, media, body, code):
    response = post_raw(body, media, credentials(app))
    assert (response.status_code, response["Content-Type"]) == (400, media)
    assert decoded(response).error.code == code


@pytest.mark.parametrize(
    "body",
    [
        {"login": pb.Login(app_key="k", accid="alice")},
        {"ping": pb.Ping()},
        {"logout": pb.Logout()},
        {"typing": pb.Typing(conversation_type=P2P, target="bob")},
        {"app_state": pb.AppState(foreground=True)},
    ],
)
def test_frames_that_need_a_live_connection_are_refused(app, body):
    response = post_raw(pb.Frame(request_id=5, **body).SerializeToString(), PROTO, credentials(app))
    reply = decoded(response)
    assert response.status_code == 400
    assert (reply.request_id, reply.error.code) == (5, "unsupported_over_http")


def test_another_content_type_is_refused_in_json(app):
    response = post_raw(b"send=1", "application/x-www-form-urlencoded", credentials(app))
    assert (response.status_code, response["Content-Type"]) == (415, JSON)
    assert json.loads(response.content)["error"]["code"] == "unsupported_media_type"


def test_a_body_over_the_frame_limit_is_refused(app, settings):
    settings.IMCLOUD = {**settings.IMCLOUD, "GATEWAY_MAX_FRAME_BYTES": 1024}
    fits = pb.Frame(request_id=1, send=text("bob", "x" * 900, "big-1")).SerializeToString()
    over = pb.Frame(request_id=2, send=text("bob", "x" * 1100, "big-2")).SerializeToString()
    ok, refused = post_raw(fits, PROTO, credentials(app)), post_raw(over, PROTO, credentials(app))
    assert (ok.status_code, decoded(ok).WhichOneof("body")) == (200, "send_ack")
    assert (refused.status_code, decoded(refused).error.code) == (413, "frame_too_large")
    assert list(Message.objects.filter(app=app).values_list("client_msg_id", flat=True)) == ["big-1"]


def test_each_device_is_rate_limited_on_its_own(app, settings, monkeypatch):
    settings.IMCLOUD = {**settings.IMCLOUD, "GATEWAY_RATE_PER_SECOND": 3}
    monkeypatch.setattr(client_frames, "_now", lambda: 1_900_000_000.25)
    frame = pb.Frame(request_id=1, sync=pb.SyncRequest()).SerializeToString()
    statuses = [post_raw(frame, PROTO, credentials(app)).status_code for _ in range(3)]
    limited = post_raw(frame, PROTO, credentials(app))
    other_device = post_raw(frame, PROTO, credentials(app, **{"X-IM-Device-Id": "alice-desk"}))
    monkeypatch.setattr(client_frames, "_now", lambda: 1_900_000_001.1)
    next_second = post_raw(frame, PROTO, credentials(app))
    assert statuses == [200, 200, 200]
    assert (limited.status_code, limited["Retry-After"], decoded(limited).error.code) == (
        429,
        "1",
        "rate_limited",
    )
    assert (other_device.status_code, next_second.status_code) == (200, 200)


def test_a_server_failure_is_a_500_with_an_error_frame(app, monkeypatch):
    async def broken(caller: Any, frame: pb.Frame) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setitem(handlers.HANDLERS, "sync", broken)
    response = post_raw(
        pb.Frame(request_id=9, sync=pb.SyncRequest()).SerializeToString(), PROTO, credentials(app)
    )
    assert (response.status_code, decoded(response).request_id, decoded(response).error.code) == (
        500,
        9,
        "internal_error",
    )


# --- tenants ---------------------------------------------------------------------------------------


def test_another_apps_credentials_cannot_touch_this_apps_data(app):
    team = team_create(app=app, owner="alice", name="Crew", members=["bob"])
    other = AppFactory()
    ImUserFactory(app=other, accid="eve")
    ImUserFactory(app=other, accid="alice")  # the same accid in another app is another user
    as_eve = {
        "get_team": pb.GetTeam(team_id=str(team.pk)),
        "add_team_members": pb.AddTeamMembers(team_id=str(team.pk), accids=["eve"]),
        "dismiss_team": pb.DismissTeam(team_id=str(team.pk)),
        "read_status": pb.ReadStatusRequest(team_id=str(team.pk), seq=1),
    }
    codes = {kind: call(other, accid="eve", **{kind: body}).error.code for kind, body in as_eve.items()}
    to_bob = call(other, accid="eve", send=text("bob", "hi", "e-1")).error.code
    own_alice = call(other, accid="alice", sync=pb.SyncRequest()).sync_result
    crossed = post_raw(
        pb.Frame(request_id=1, sync=pb.SyncRequest()).SerializeToString(),
        PROTO,
        credentials(app, "eve"),
    )
    assert codes == {
        "get_team": "no_such_team",
        "add_team_members": "no_such_team",
        "dismiss_team": "no_such_team",
        "read_status": "no_such_team",
    }
    assert to_bob == "no_such_user"
    assert list(own_alice.conversations) == []
    assert (crossed.status_code, decoded(crossed).error.code) == (401, "bad_credentials")
    assert set(members_of(team)) == {"alice", "bob"}
    assert Message.objects.count() == 0


# --- live delivery ---------------------------------------------------------------------------------


async def test_an_http_send_reaches_the_recipients_and_the_senders_live_devices(app):
    bob, alice_desk = CommClient(), CommClient()
    for client, accid, device in ((bob, "bob", "bob-phone"), (alice_desk, "alice", "alice-desk")):
        await client.connect()
        result = await client.login(
            app_key=app.app_key, accid=accid, device_id=device, platform=pb.PLATFORM_MAC
        )
        assert result.WhichOneof("body") == "login_result"
    try:
        ack = (await db_async(call)(app, JSON, send=text("bob", "via the short link", "h-1"))).send_ack
        to_bob = (await bob.next_push("message")).message
        to_desk = (await alice_desk.next_push("message")).message
        again = (await db_async(call)(app, PROTO, send=text("bob", "via the short link", "h-1"))).send_ack
        team = (await db_async(call)(app, create_team=pb.CreateTeam(name="Crew", members=["bob"]))).team_info
        notice = (await bob.next_push("team_notice")).team_notice
        assert (to_bob.seq, to_bob.target, to_bob.text, to_bob.server_msg_id) == (
            1,
            "alice",
            "via the short link",
            ack.server_msg_id,
        )
        assert (to_desk.target, to_desk.seq) == ("bob", 1)
        assert (again.duplicate, again.server_msg_id) == (True, ack.server_msg_id)
        assert await bob.no_push() == []  # the retry was not delivered again
        assert (notice.team_id, notice.kind, notice.operator) == (
            team.team_id,
            pb.TEAM_CHANGE_KIND_CREATED,
            "alice",
        )
    finally:
        await bob.close()
        await alice_desk.close()


def test_the_schema_documents_both_encodings_and_the_client_headers():
    schema = Client().get("/api/v1/schema/", {"format": "json"}).json()
    operation = schema["paths"]["/api/v1/client/frames"]["post"]
    headers = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
    assert set(operation["requestBody"]["content"]) == {PROTO, JSON}
    assert headers == {"X-IM-AppKey", "X-IM-Accid", "X-IM-Token", "X-IM-Device-Id", "X-IM-Platform"}
    assert set(operation["responses"]) == {"200", "400", "401", "413", "415", "429"}
    assert "security" not in operation  # not the server API's signature
