"""The short link: no WebSocket gets through, HTTP does; and back to the WebSocket when it can."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from imcloud_sdk import Client, ConnectionState

from tests.live.stack import free_port
from tests.markers import requires_services
from tests.sdk.python.cloud import Cloud, Recorder, logged_in
from tests.weaknet.proxy import FaultProxy

pytestmark = [pytest.mark.live, requires_services]


@pytest.mark.parametrize("encoding", ["proto", "json"])
async def test_with_every_websocket_dead_the_client_chats_over_http_then_returns(cloud: Cloud, encoding: str):
    bob, bob_seen = await logged_in(cloud, "bob", endpoints=[cloud.gateways.ws(1)])
    upstream = urlsplit(cloud.gateways.ws(0))
    assert upstream.port is not None
    async with FaultProxy(upstream=("127.0.0.1", upstream.port)) as proxy:
        proxy.refuse(True)
        dead = f"ws://127.0.0.1:{free_port()}/ws"
        alice = Client(
            cloud.options(
                endpoints=[dead, proxy.url()],
                http_endpoints=[cloud.gateways.bases[0]],
                http_poll_interval=0.5,
                encoding=encoding,
            )
        )
        alice_seen = Recorder().attach(alice)
        try:
            await alice.login("alice", cloud.tokens["alice"])
            assert alice.state is ConnectionState.CONNECTED
            assert alice.transport == "http"

            ack = await alice.send_text("bob", "over http")
            assert ack.seq == 1
            await bob_seen.wait(lambda: bob_seen.texts() == ["over http"])
            await bob.send_text("alice", "polled back")
            await alice_seen.wait(lambda: alice_seen.texts() == ["polled back"])
            assert alice_seen.messages[0].seq == 2
            assert alice.transport == "http"

            # The WebSocket path opens again: the client moves back and gets pushes live.
            proxy.refuse(False)
            await alice_seen.wait(lambda: alice.transport == "websocket", timeout=60)
            await bob.send_text("alice", "pushed live")
            await alice_seen.wait(lambda: len(alice_seen.messages) == 2)
            assert [(m.seq, m.text) for m in alice_seen.messages] == [(2, "polled back"), (3, "pushed live")]
            assert alice_seen.errors == []
        finally:
            await alice.close()
            await bob.close()


async def test_the_lbs_hands_out_both_gateways_and_the_short_link(cloud: Cloud):
    client = Client(cloud.options(endpoints=[], lbs_url=cloud.lbs_url))
    await client.login("carol", cloud.tokens["carol"])
    try:
        lbs = [e for e in client.dump_log() if e["event"] == "lbs"]
        assert len(lbs) == 1
        assert lbs[0]["gateways"] == [cloud.gateways.ws(0), cloud.gateways.ws(1)]
        assert lbs[0]["http"] == cloud.gateways.bases
        assert client.transport == "websocket"
    finally:
        await client.close()
