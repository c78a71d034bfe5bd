"""An app restart with a FileStore: the new Client hands over exactly what the user missed."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from imcloud_sdk import Client, FileStore

from tests.markers import requires_services
from tests.sdk.python.cloud import Cloud, Recorder, logged_in

pytestmark = [pytest.mark.live, requires_services]


async def test_a_new_client_with_the_same_store_receives_exactly_what_it_missed_in_order(
    cloud: Cloud, tmp_path: Path
):
    path = tmp_path / "bob-state.json"
    alice, _ = await logged_in(cloud, "alice", endpoints=[cloud.gateways.ws(0)])
    carol, _ = await logged_in(cloud, "carol", endpoints=[cloud.gateways.ws(0)])
    try:
        # The first run: bob's app sees two messages, then quits.
        first = Client(cloud.options(endpoints=[cloud.gateways.ws(1)], store=FileStore(path)))
        first_seen = Recorder().attach(first)
        await first.login("bob", cloud.tokens["bob"])
        for n in (1, 2):
            await alice.send_text("bob", f"before {n}")
        await first_seen.wait(lambda: len(first_seen.messages) == 2)
        await first.close()
        saved = json.loads(path.read_text())
        session = saved[f"session:{cloud.app_key}:bob"]
        assert session["delivered"] == {"1:alice": 2}
        assert session["cursor"]
        assert "heartbeat" in saved

        # No client runs: alice writes on, and carol starts a conversation bob has never seen.
        for n in (3, 4, 5):
            await alice.send_text("bob", f"while away {n}")
        for n in (1, 2):
            await carol.send_text("bob", f"hi from carol {n}")

        second = Client(cloud.options(endpoints=[cloud.gateways.ws(0)], store=FileStore(path)))
        second_seen = Recorder().attach(second)
        await second.login("bob", cloud.tokens["bob"])
        await second_seen.wait(lambda: len(second_seen.messages) >= 5)
        await asyncio.sleep(0.5)  # room for a repeat of an old message to show up, were there one
        assert [(m.target, m.seq, m.text) for m in second_seen.messages if m.target == "alice"] == [
            ("alice", 3, "while away 3"),
            ("alice", 4, "while away 4"),
            ("alice", 5, "while away 5"),
        ]
        assert [(m.seq, m.text) for m in second_seen.messages if m.target == "carol"] == [
            (1, "hi from carol 1"),
            (2, "hi from carol 2"),
        ]
        assert len(second_seen.messages) == 5

        # Live delivery goes on from there, and the position is saved again.
        await alice.send_text("bob", "back")
        await second_seen.wait(lambda: len(second_seen.messages) == 6)
        assert second_seen.messages[-1].seq == 6
        await second.close()
        session = json.loads(path.read_text())[f"session:{cloud.app_key}:bob"]
        assert session["delivered"] == {"1:alice": 6, "1:carol": 2}
        assert second_seen.errors == []
        assert first_seen.errors == []
    finally:
        await alice.close()
        await carol.close()
