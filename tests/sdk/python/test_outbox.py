from __future__ import annotations

import asyncio

import pytest
from imcloud_sdk import ImError, pb
from imcloud_sdk.outbox import Outbox, Pending


def _pending(text: str) -> Pending:
    body = pb.SendMessage(target="bob", text=text, client_msg_id=f"id-{text}")
    return Pending("send", body, "send_ack", asyncio.get_running_loop().create_future(), created_at=0.0)


async def test_requests_are_kept_in_call_order_and_framed_with_their_body():
    outbox = Outbox()
    first, second = _pending("a"), _pending("b")
    outbox.add(first)
    outbox.add(second)
    assert outbox.in_order() == [first, second]
    frame = second.frame(request_id=9)
    assert (frame.request_id, frame.send.client_msg_id, second.client_msg_id) == (9, "id-b", "id-b")
    outbox.remove(first)
    assert outbox.in_order() == [second]


async def test_replies_are_matched_by_link_and_request_id_and_stale_ones_found():
    outbox = Outbox()
    pending = _pending("a")
    outbox.add(pending)
    outbox.assign(pending, 3, 5)
    pending.sent_at = 100.0
    assert (pending.link_id, pending.request_id) == (3, 5)
    assert outbox.on_link(3, 5) is pending
    assert outbox.on_link(4, 5) is None  # the same id on another link is another request
    assert outbox.unanswered_since(3, before=110.0) == [pending]
    assert outbox.unanswered_since(3, before=100.0) == []
    pending.future.set_result(pb.Frame())
    assert outbox.unanswered_since(3, before=110.0) == []


async def test_fail_all_rejects_every_waiting_request():
    outbox = Outbox()
    pending = _pending("a")
    outbox.add(pending)
    outbox.fail_all(ImError("kicked"))
    assert len(outbox) == 0
    with pytest.raises(ImError) as failed:
        await pending.future
    assert failed.value.code == "kicked"


async def test_a_request_resent_on_a_new_link_answers_only_there_and_leaves_nothing_behind():
    outbox = Outbox()
    pending, other = _pending("a"), _pending("b")
    outbox.add(pending)
    outbox.add(other)
    outbox.assign(pending, 3, 5)
    outbox.assign(other, 3, 6)
    outbox.assign(pending, 4, 1)  # the link died; written again on the next one
    assert (outbox.on_link(3, 5), outbox.on_link(4, 1), outbox.on_link(3, 6)) == (None, pending, other)
    outbox.remove(pending)
    outbox.remove(other)
    assert (outbox.on_link(4, 1), outbox.on_link(3, 6)) == (None, None)
    assert (outbox._by_reply, outbox._reply_of) == ({}, {})
