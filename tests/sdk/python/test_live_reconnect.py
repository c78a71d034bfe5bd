"""Reconnects against real gateways: an outage, a gateway killed mid-chat, a dead first endpoint."""

from __future__ import annotations

import asyncio
import signal
import time
from urllib.parse import urlsplit

import pytest
from imcloud_sdk import ConnectionState

from tests.live.stack import free_port
from tests.markers import requires_services
from tests.sdk.python.cloud import Cloud, logged_in
from tests.weaknet.proxy import FaultProxy

pytestmark = [pytest.mark.live, requires_services]


def _address(ws_url: str) -> tuple[str, int]:
    parts = urlsplit(ws_url)
    assert parts.hostname is not None
    assert parts.port is not None
    return parts.hostname, parts.port


async def test_offline_then_back_gets_exactly_the_missed_messages_in_order_once(cloud: Cloud):
    alice, _ = await logged_in(cloud, "alice", endpoints=[cloud.gateways.ws(0)])
    async with FaultProxy(upstream=_address(cloud.gateways.ws(1))) as proxy:
        bob, bob_seen = await logged_in(cloud, "bob", endpoints=[proxy.url()])
        try:
            for n in range(2):
                await alice.send_text("bob", f"online {n}")
            await bob_seen.wait(lambda: len(bob_seen.messages) == 2)

            proxy.down()
            await bob.wait_for_state(ConnectionState.DISCONNECTED, ConnectionState.CONNECTING)
            for n in range(5):
                await alice.send_text("bob", f"missed {n}")
            assert len(bob_seen.messages) == 2
            proxy.up()

            await bob_seen.wait(lambda: len(bob_seen.messages) == 7)
            await alice.send_text("bob", "live again")
            await bob_seen.wait(lambda: len(bob_seen.messages) == 8)
            assert [m.seq for m in bob_seen.messages] == list(range(1, 9))
            assert bob_seen.texts() == [
                "online 0",
                "online 1",
                *[f"missed {n}" for n in range(5)],
                "live again",
            ]
            assert bob.stats["logins"] == 2
            assert bob_seen.states[-1] == "connected"
        finally:
            await bob.close()
            await alice.close()


async def test_killing_a_gateway_mid_chat_loses_and_duplicates_nothing(cloud: Cloud):
    endpoints = [cloud.gateways.ws(0), cloud.gateways.ws(1)]
    alice, _ = await logged_in(cloud, "alice", endpoints=endpoints)
    bob, bob_seen = await logged_in(cloud, "bob", endpoints=endpoints)
    try:
        total, kill_at = 20, 6
        sends = []
        for n in range(total):
            if n == kill_at:
                cloud.gateways.processes[0].send_signal(signal.SIGKILL)
            # Not awaited one by one: sends made during the outage wait in the outbox.
            sends.append(asyncio.ensure_future(alice.send_text("bob", f"m{n}", client_msg_id=f"kill-{n}")))
            await asyncio.sleep(0.05)
        acks = await asyncio.gather(*sends)
        # Resent in call order after the reconnect: the stream keeps the order the app sent in.
        assert [ack.seq for ack in acks] == list(range(1, total + 1))
        await bob_seen.wait(lambda: len(bob_seen.messages) == total, timeout=60)
        await asyncio.sleep(0.5)  # room for a duplicate to show up, were there one
        assert [m.seq for m in bob_seen.messages] == list(range(1, total + 1))
        assert sorted(m.client_msg_id for m in bob_seen.messages) == sorted(f"kill-{n}" for n in range(total))
        assert [m.text for m in bob_seen.messages] == [f"m{n}" for n in range(total)]
        for client in (alice, bob):
            assert client.state is ConnectionState.CONNECTED
            assert client.stats["logins"] == 2
        assert any(entry["event"] == "link_lost" for entry in alice.dump_log())
    finally:
        await alice.close()
        await bob.close()


async def test_racing_skips_a_dead_port_and_a_silent_endpoint(cloud: Cloud):
    dead = f"ws://127.0.0.1:{free_port()}/ws"
    client, _ = await logged_in(cloud, "alice", endpoints=[dead, cloud.gateways.ws(0)])
    try:
        # A refused connection moves on at once: two attempts, the second one logged in.
        assert client.stats["connect_attempts"] == 2
        failed = [e for e in client.dump_log() if e["event"] == "connect_failed"]
        assert [e["url"] for e in failed] == [dead]
    finally:
        await client.close()

    # An endpoint that accepts TCP but never answers: the next one starts after race_interval,
    # long before the silent one's connect_timeout.
    async with FaultProxy(upstream=_address(cloud.gateways.ws(1))) as silent:
        silent.blackhole(True)
        started = time.monotonic()
        client, _ = await logged_in(
            cloud, "bob", endpoints=[silent.url(), cloud.gateways.ws(0)], connect_timeout=30.0
        )
        try:
            assert time.monotonic() - started < 20.0
            assert client.stats["connect_attempts"] == 2
            ok = [e for e in client.dump_log() if e["event"] == "connect_ok"]
            assert [e["url"] for e in ok] == [cloud.gateways.ws(0)]
        finally:
            await client.close()
