"""State stores and what the client saves in them: file writes, heartbeat and position round trips."""

from __future__ import annotations

import json
from pathlib import Path

from imcloud_sdk import ClientOptions, FileStore, MemoryStore
from imcloud_sdk.clock import ManualClock
from imcloud_sdk.heartbeat import Phase, SmartHeartbeat
from imcloud_sdk.ordering import ConversationOrdering
from imcloud_sdk.persistence import delivered_document, parse_conversation_id

from tests.sdk.python.test_heartbeat import _succeed


def test_a_file_store_keeps_each_key_and_replaces_the_file_whole(tmp_path: Path):
    path = tmp_path / "state" / "imcloud.json"
    store = FileStore(path)
    assert store.load("session:k:alice") is None
    store.save("session:k:alice", {"cursor": "c1", "delivered": {"1:bob": 3}})
    store.save("heartbeat", {"networks": []})
    store.save("session:k:alice", {"cursor": "c2", "delivered": {"1:bob": 4}})
    again = FileStore(path)  # a new process reading what the last one wrote
    assert again.load("session:k:alice") == {"cursor": "c2", "delivered": {"1:bob": 4}}
    assert again.load("heartbeat") == {"networks": []}
    assert sorted(p.name for p in path.parent.iterdir()) == ["imcloud.json"]  # no temp file left behind
    assert set(json.loads(path.read_text())) == {"session:k:alice", "heartbeat"}


def test_a_damaged_file_is_read_as_empty_and_then_replaced(tmp_path: Path):
    path = tmp_path / "imcloud.json"
    path.write_text('{"session:k:alice": {"cursor": "c1"')  # cut short by a crash of another writer
    store = FileStore(path)
    assert store.load("session:k:alice") is None
    store.save("session:k:alice", {"cursor": "c3"})
    assert FileStore(path).load("session:k:alice") == {"cursor": "c3"}


def test_a_memory_store_hands_out_copies():
    store = MemoryStore()
    document = {"cursor": "c1", "delivered": {"1:bob": 1}}
    store.save("s", document)
    document["delivered"]["1:bob"] = 99
    loaded = store.load("s")
    assert loaded == {"cursor": "c1", "delivered": {"1:bob": 1}}
    assert loaded is not None
    loaded["cursor"] = "changed"
    assert store.load("s") == {"cursor": "c1", "delivered": {"1:bob": 1}}


def test_the_learned_heartbeat_survives_a_restart_per_network():
    options = ClientOptions(app_key="k", endpoints=["ws://x/ws"])
    first_clock = ManualClock(start=5_000.0)
    first = SmartHeartbeat(options, first_clock)
    first.set_network("wifi-home")
    _succeed(first, 3 + 5 * 3)  # warm up, then three steps up: 45 -> 225 (not answered yet)
    first.on_failure()
    first.on_failure()  # settles at the last answered interval
    assert (first.interval(), first.phase) == (165.0, Phase.SETTLED)
    first.set_network("cellular")
    _succeed(first, 3)
    saved = json.loads(json.dumps(first.export()))  # through JSON, as a store keeps it

    # A new process: its monotonic clock started again, a day of wall time later.
    later = ManualClock(start=10.0, wall=first_clock.time() + 86_400.0)
    second = SmartHeartbeat(options, later)
    second.restore(saved)
    second.set_network("wifi-home")
    assert (second.interval(), second.phase) == (165.0, Phase.SETTLED)
    second.set_network("cellular")
    assert (second.interval(), second.phase) == (45.0, Phase.PROBING)
    # The settle time came across as wall time: the re-probe is due 7 days after settling, not later.
    second.set_network("wifi-home")
    later.advance(6 * 86_400.0 - 60)
    assert second.phase is Phase.SETTLED
    later.advance(120)
    second.interval()
    assert second.phase is Phase.PROBING


def test_restored_positions_drop_what_was_handed_over_before():
    ordering = ConversationOrdering()
    key = parse_conversation_id("1:bob")
    assert key == (1, "bob")
    ordering.restore(key, 4)
    assert delivered_document("c9", ordering.conversations()) == {"cursor": "c9", "delivered": {"1:bob": 4}}
    assert ordering.fill(key, 4, [], complete=True).deliver == []
    assert parse_conversation_id("nonsense") is None
