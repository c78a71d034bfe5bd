from __future__ import annotations

import asyncio
import json

import pytest
from imcloud_sdk import ClientOptions, ConnectionState, pb
from imcloud_sdk.clock import ManualClock
from imcloud_sdk.events import EventBus
from imcloud_sdk.log import ClientLog


def test_the_log_keeps_the_last_entries_as_json_ready_dicts():
    clock = ManualClock()
    log = ClientLog(3, clock)
    for n in range(5):
        log.info("step", n=n, state=ConnectionState.CONNECTED, frame=pb.Ping(client_time=n), urls=("a", "b"))
        clock.advance(1)
    entries = log.dump()
    assert [e["n"] for e in entries] == [2, 3, 4]
    assert entries[0] == {
        "ts": round(clock.time() - 3, 3),
        "level": "info",
        "event": "step",
        "n": 2,
        "state": "connected",
        "frame": "client_time: 2\n",
        "urls": ["a", "b"],
    }
    json.dumps(entries)


async def test_events_are_handed_over_in_order_to_sync_and_async_handlers_and_a_failing_one_is_logged():
    log = ClientLog(10, ManualClock())
    bus = EventBus(log)
    seen: list[tuple[str, int]] = []

    async def slow(n: int) -> None:
        await asyncio.sleep(0.01)
        seen.append(("async", n))

    def broken(n: int) -> None:
        raise RuntimeError("app bug")

    bus.on("message", slow)
    bus.on("message", lambda n: seen.append(("sync", n)))
    bus.on("message", broken)
    off = bus.on("message", lambda n: seen.append(("removed", n)))
    off()
    for n in range(3):
        bus.emit("message", n)
    await bus.drain()
    assert seen == [("async", 0), ("sync", 0), ("async", 1), ("sync", 1), ("async", 2), ("sync", 2)]
    assert [e["event"] for e in log.dump()] == ["handler_failed"] * 3


def test_unknown_events_and_bad_options_are_refused():
    bus = EventBus(ClientLog(1, ManualClock()))
    with pytest.raises(ValueError, match="unknown event"):
        bus.on("messages", print)
    with pytest.raises(ValueError, match="app_key"):
        ClientOptions(app_key="", endpoints=["ws://x/ws"])
    with pytest.raises(ValueError, match="lbs_url"):
        ClientOptions(app_key="k")
    with pytest.raises(ValueError, match="heartbeat"):
        ClientOptions(app_key="k", endpoints=["ws://x/ws"], heartbeat_min=600, heartbeat_max=60)
