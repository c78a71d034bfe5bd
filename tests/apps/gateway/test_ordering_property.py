"""Property: whatever the retries, duplicate frames and disconnects, every message is stored once,
each conversation's seqs run 1..N without gaps, and every device ends with exactly that stream.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.messaging.models import Message
from apps.protocol import imcloud_pb2 as pb
from tests.factories import AppFactory, ImUserFactory
from tests.gateway_communicator import CommClient

pytestmark = pytest.mark.django_db(transaction=True)

USERS = ("alice", "bob")
actions = st.lists(
    st.one_of(
        st.tuples(st.just("send"), st.sampled_from(USERS)),
        st.tuples(st.just("retry"), st.sampled_from(USERS)),  # the same client_msg_id again
        st.tuples(st.just("duplicate"), st.sampled_from(USERS)),  # one frame sent twice at once
        st.tuples(st.just("reconnect"), st.sampled_from(USERS)),
    ),
    min_size=1,
    max_size=25,
)


@dataclass
class Device:
    accid: str
    client: CommClient | None = None
    # What this device holds of the one conversation: seq -> client_msg_id.
    held: dict[int, str] = field(default_factory=dict)
    sent: list[str] = field(default_factory=list)
    acks: dict[str, tuple[str, int]] = field(default_factory=dict)


async def _drain(device: Device) -> None:
    assert device.client is not None
    while not device.client.pushes.empty():
        frame = device.client.pushes.get_nowait()
        if frame.WhichOneof("body") == "message":
            device.held.setdefault(frame.message.seq, frame.message.client_msg_id)


async def _catch_up(device: Device, peer: str) -> None:
    """What an SDK does after a (re)connect or a seq gap: fetch everything after what it holds."""
    assert device.client is not None
    after = 0
    while True:
        request = pb.SyncRequest(
            conversation_type=pb.CONVERSATION_TYPE_P2P, target=peer, after_seq=after, limit=10
        )
        page = (await device.client.request(sync=request)).sync_result
        for message in page.messages:
            device.held.setdefault(message.seq, message.client_msg_id)
            after = message.seq
        if not page.has_more:
            return


async def _connect(device: Device, app_key: str) -> None:
    device.client = await CommClient().connect()
    result = await device.client.login(app_key=app_key, accid=device.accid, device_id=f"{device.accid}-phone")
    assert result.WhichOneof("body") == "login_result"


def _peer(accid: str) -> str:
    return USERS[1 - USERS.index(accid)]


def _send_body(device: Device, client_msg_id: str) -> pb.SendMessage:
    return pb.SendMessage(
        conversation_type=pb.CONVERSATION_TYPE_P2P, target=_peer(device.accid), type=pb.MESSAGE_TYPE_TEXT,
        text=f"text of {client_msg_id}", client_msg_id=client_msg_id,
    )  # fmt: skip


def _send_frame(device: Device, client_msg_id: str, request_id: int) -> bytes:
    return pb.Frame(request_id=request_id, send=_send_body(device, client_msg_id)).SerializeToString()


async def _scenario(app_key: str, program: list[tuple[str, str]]) -> dict[str, Device]:
    devices = {accid: Device(accid) for accid in USERS}
    for device in devices.values():
        await _connect(device, app_key)
    counter = 0
    for action, accid in program:
        device = devices[accid]
        assert device.client is not None
        if action == "reconnect":
            await device.client.close()
            await _connect(device, app_key)
            await _catch_up(device, _peer(accid))
            continue
        fresh = action == "send" or not device.sent
        counter += 1
        client_msg_id = f"{accid}-{counter}" if fresh else device.sent[-1]
        device.sent += [client_msg_id] if fresh else []
        if action == "duplicate":
            await device.client.send_raw(_send_frame(device, client_msg_id, 10_000 + counter))
        ack = await device.client.request(send=_send_body(device, client_msg_id))
        assert ack.WhichOneof("body") == "send_ack", ack
        original = device.acks.setdefault(client_msg_id, (ack.send_ack.server_msg_id, ack.send_ack.seq))
        assert (ack.send_ack.server_msg_id, ack.send_ack.seq) == original
        device.held.setdefault(ack.send_ack.seq, client_msg_id)
    await asyncio.sleep(0.2)
    for device in devices.values():
        await _drain(device)
        await _catch_up(device, _peer(device.accid))
        assert device.client is not None
        await device.client.close()
    return devices


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(program=actions)
def test_every_message_is_stored_once_in_order_and_every_device_ends_with_the_same_stream(program):
    app = AppFactory()
    for accid in USERS:
        ImUserFactory(app=app, accid=accid)
    devices = asyncio.run(_scenario(app.app_key, program))
    stored = list(Message.objects.filter(app=app).order_by("seq").values_list("seq", "client_msg_id"))
    sent = [cid for device in devices.values() for cid in device.sent]
    assert [seq for seq, _ in stored] == list(range(1, len(stored) + 1))
    assert sorted(cid for _, cid in stored) == sorted(sent)
    for device in devices.values():
        assert sorted(device.held.items()) == stored
        mine = [cid for _, cid in stored if cid.startswith(f"{device.accid}-")]
        assert mine == device.sent
