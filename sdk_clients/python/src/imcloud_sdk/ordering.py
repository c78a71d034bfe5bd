"""In-order, once-only delivery per conversation, with the gaps that call for a sync.

Per conversation the SDK remembers the highest seq handed to the app. A message at or below it is
a duplicate; the next one is handed over; a later one is held until a sync fills the gap. Seqs the
app already knows about without being told (its own sends, acknowledged) are held silently: they
advance the position but are not emitted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from imcloud_sdk._generated import imcloud_pb2 as pb

ConversationKey = tuple[int, str]


def key_of(message: pb.Message) -> ConversationKey:
    return (int(message.conversation_type), message.target)


@dataclass
class _Stream:
    delivered: int
    held: dict[int, pb.Message | None] = field(default_factory=dict)


@dataclass
class Accepted:
    deliver: list[pb.Message]
    gap_after: int | None  # when set: sync the conversation after this seq


class ConversationOrdering:
    def __init__(self) -> None:
        self._streams: dict[ConversationKey, _Stream] = {}

    def delivered(self, key: ConversationKey) -> int | None:
        stream = self._streams.get(key)
        return None if stream is None else stream.delivered

    def restore(self, key: ConversationKey, delivered: int) -> None:
        """A previous run handed over up to `delivered` (from a StateStore)."""
        stream = self._streams.setdefault(key, _Stream(delivered=delivered))
        stream.delivered = max(stream.delivered, delivered)

    def conversations(self) -> dict[ConversationKey, int]:
        return {key: stream.delivered for key, stream in self._streams.items()}

    def accept(self, message: pb.Message, *, new_since_listing: bool = False) -> Accepted:
        """A message pushed live.

        `new_since_listing`: the conversation list was read before, so a conversation not seen yet
        began after it and all of it is new (fetched from the start); otherwise a conversation first
        seen starts at this message and its past is history().
        """
        key = key_of(message)
        if key not in self._streams:
            start = 0 if new_since_listing else int(message.seq) - 1
            self._streams[key] = _Stream(delivered=start)
        return self._put(self._streams[key], int(message.seq), message)

    def accept_own(self, key: ConversationKey, seq: int, *, new_since_listing: bool = False) -> Accepted:
        """Our own send was acknowledged at `seq`: the app has it already, so it is not emitted.

        `new_since_listing` as in accept(): a conversation that began after the conversation list
        was read starts at 0, so the peer's messages below our seq are handed over, not skipped.
        """
        start = 0 if new_since_listing else seq - 1
        stream = self._streams.setdefault(key, _Stream(delivered=start))
        return self._put(stream, seq, None)

    def fill(
        self, key: ConversationKey, after_seq: int, messages: list[pb.Message], *, complete: bool
    ) -> Accepted:
        """A page of `sync{after_seq}`. When it is the last page, seqs it skipped are not visible to
        this user (a team joined late, retention), so the position may jump over them."""
        stream = self._streams.setdefault(key, _Stream(delivered=after_seq))
        delivered: list[pb.Message] = []
        for message in messages:
            delivered += self._put(stream, int(message.seq), message).deliver
        if complete and stream.held and stream.delivered <= after_seq:
            stream.delivered = min(stream.held) - 1
        result = self._drain(stream)
        return Accepted(delivered + result.deliver, result.gap_after)

    def _put(self, stream: _Stream, seq: int, message: pb.Message | None) -> Accepted:
        if seq > stream.delivered:
            stream.held.setdefault(seq, message)
        return self._drain(stream)

    def _drain(self, stream: _Stream) -> Accepted:
        out: list[pb.Message] = []
        while stream.delivered + 1 in stream.held:
            stream.delivered += 1
            message = stream.held.pop(stream.delivered)
            if message is not None:
                out.append(message)
        gap = stream.delivered if stream.held else None
        return Accepted(out, gap)

    def note_last_seq(self, key: ConversationKey, last_seq: int, *, start_at_end: bool) -> int | None:
        """From the conversation list. Returns the seq to sync after when messages are missing.

        `start_at_end`: a conversation first seen in the first listing starts at its last seq (its
        past is history); one that appears in a later listing is new since, so all of it is fetched.
        """
        stream = self._streams.get(key)
        if stream is None:
            stream = self._streams[key] = _Stream(delivered=last_seq if start_at_end else 0)
        if last_seq > stream.delivered:
            return stream.delivered
        return None

    def pending_gap(self, key: ConversationKey) -> int | None:
        stream = self._streams.get(key)
        if stream is None or not stream.held:
            return None
        return stream.delivered
