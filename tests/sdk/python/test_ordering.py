from __future__ import annotations

from imcloud_sdk import pb
from imcloud_sdk.ordering import ConversationOrdering

P2P = int(pb.CONVERSATION_TYPE_P2P)
KEY = (P2P, "alice")


def _message(seq: int, target: str = "alice") -> pb.Message:
    return pb.Message(conversation_type=pb.CONVERSATION_TYPE_P2P, target=target, seq=seq, text=f"#{seq}")


def _seqs(messages: list[pb.Message]) -> list[int]:
    return [int(m.seq) for m in messages]


def test_in_order_messages_are_handed_over_at_once_and_duplicates_dropped():
    ordering = ConversationOrdering()
    assert _seqs(ordering.accept(_message(1)).deliver) == [1]
    assert _seqs(ordering.accept(_message(2)).deliver) == [2]
    again = ordering.accept(_message(2))
    assert (again.deliver, again.gap_after) == ([], None)
    assert _seqs(ordering.accept(_message(1)).deliver) == []
    assert ordering.delivered(KEY) == 2


def test_a_gap_holds_later_messages_until_a_sync_fills_it():
    ordering = ConversationOrdering()
    ordering.accept(_message(1))
    held = ordering.accept(_message(4))
    assert (held.deliver, held.gap_after) == ([], 1)
    assert ordering.accept(_message(5)).gap_after == 1
    filled = ordering.fill(KEY, 1, [_message(2), _message(3), _message(4)], complete=True)
    assert _seqs(filled.deliver) == [2, 3, 4, 5]
    assert filled.gap_after is None
    assert ordering.pending_gap(KEY) is None


def test_a_conversation_first_seen_live_starts_there_before_the_listing_and_at_zero_after_it():
    ordering = ConversationOrdering()
    assert _seqs(ordering.accept(_message(7, "bob")).deliver) == [7]
    assert ordering.delivered((P2P, "bob")) == 7
    new = ordering.accept(_message(3, "carol"), new_since_listing=True)
    assert (new.deliver, new.gap_after) == ([], 0)


def test_the_listing_starts_old_conversations_at_their_end_and_new_ones_at_zero():
    ordering = ConversationOrdering()
    assert ordering.note_last_seq(KEY, 40, start_at_end=True) is None
    assert ordering.delivered(KEY) == 40
    assert ordering.note_last_seq(KEY, 43, start_at_end=False) == 40
    assert ordering.note_last_seq((P2P, "dave"), 2, start_at_end=False) == 0


def test_own_acknowledged_sends_advance_the_position_silently():
    ordering = ConversationOrdering()
    ordering.accept(_message(1))
    assert ordering.accept_own(KEY, 2).deliver == []
    assert _seqs(ordering.accept(_message(3)).deliver) == [3]
    # An own send acknowledged out of order: the peer's later message waits for it, then both pass.
    assert ordering.accept(_message(5)).gap_after == 3
    assert _seqs(ordering.accept_own(KEY, 4).deliver) == [5]
    assert ordering.delivered(KEY) == 5


def test_seqs_a_complete_sync_skips_are_not_visible_and_are_jumped():
    ordering = ConversationOrdering()
    ordering.accept(_message(9), new_since_listing=True)  # a team joined at seq 8
    filled = ordering.fill(KEY, 0, [_message(9), _message(10)], complete=True)
    assert _seqs(filled.deliver) == [9, 10]
    assert ordering.delivered(KEY) == 10


def test_an_incomplete_page_does_not_jump():
    ordering = ConversationOrdering()
    ordering.accept(_message(1))
    ordering.accept(_message(250))
    page = ordering.fill(KEY, 1, [_message(n) for n in range(2, 102)], complete=False)
    assert _seqs(page.deliver) == list(range(2, 102))
    assert page.gap_after == 101
