"""Requests waiting for their reply, in the order they were made.

Every request stays here until it is answered or its total time runs out. After a reconnect the
queue is sent again in order; a send keeps the client_msg_id it got at call time, so the server
stores it once and answers a resend with the original ack (duplicate=true). A request that is not
idempotent (the proto's `(idempotent)` option) and was written to a link that died before its reply
is not sent again: it may have been carried out, so it fails with `connection_lost` instead.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field

from google.protobuf.message import Message as ProtoMessage

from imcloud_sdk._generated import imcloud_pb2 as pb

_ids = itertools.count(1)


@dataclass(eq=False)
class Pending:
    kind: str  # the Frame field, e.g. "send"
    body: ProtoMessage
    expect: str
    future: asyncio.Future[pb.Frame]
    created_at: float
    idempotent: bool = False
    id: int = field(default_factory=lambda: next(_ids))
    link_id: int | None = None  # the link it was last written to
    written_link: int | None = None  # that link, once the frame went out and no refusal came back
    refusals: int = 0  # consecutive `rate_limited` answers
    request_id: int = 0  # its request_id on that link
    sent_at: float | None = None
    attempts: int = 0
    http_in_flight: bool = False

    def frame(self, request_id: int) -> pb.Frame:
        frame = pb.Frame(request_id=request_id)
        getattr(frame, self.kind).CopyFrom(self.body)
        return frame

    @property
    def client_msg_id(self) -> str:
        return self.body.client_msg_id if isinstance(self.body, pb.SendMessage) else ""


class Outbox:
    def __init__(self) -> None:
        self._items: dict[int, Pending] = {}
        # (link id, request id) -> the request written with it: a reply finds its request at once.
        self._by_reply: dict[tuple[int, int], Pending] = {}
        self._reply_of: dict[int, tuple[int, int]] = {}

    def add(self, pending: Pending) -> None:
        self._items[pending.id] = pending

    def remove(self, pending: Pending) -> None:
        self._items.pop(pending.id, None)
        key = self._reply_of.pop(pending.id, None)
        if key is not None:
            self._by_reply.pop(key, None)

    def assign(self, pending: Pending, link_id: int, request_id: int) -> None:
        """The request is (about to be) written to a link with this request id."""
        old = self._reply_of.get(pending.id)
        if old is not None:
            self._by_reply.pop(old, None)
        pending.link_id, pending.request_id = link_id, request_id
        self._by_reply[(link_id, request_id)] = pending
        self._reply_of[pending.id] = (link_id, request_id)

    def __len__(self) -> int:
        return len(self._items)

    def in_order(self) -> list[Pending]:
        return list(self._items.values())

    def on_link(self, link_id: int, request_id: int) -> Pending | None:
        pending = self._by_reply.get((link_id, request_id))
        if pending is None or pending.id not in self._items:
            return None
        if (pending.link_id, pending.request_id) != (link_id, request_id):
            return None  # moved on to another link since
        return pending

    def unanswered_since(self, link_id: int, before: float) -> list[Pending]:
        """Requests written to this link before `before` and still without a reply."""
        return [
            p
            for p in self._items.values()
            if p.link_id == link_id and p.sent_at is not None and p.sent_at < before and not p.future.done()
        ]

    def written_to(self, link_id: int) -> list[Pending]:
        """Requests whose frame went out on this link and is still unanswered."""
        return [p for p in self._items.values() if p.written_link == link_id and not p.future.done()]

    def fail_all(self, error: BaseException) -> None:
        for pending in self._items.values():
            if not pending.future.done():
                pending.future.set_exception(error)
        self._items.clear()
        self._by_reply.clear()
        self._reply_of.clear()
