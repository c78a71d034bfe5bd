"""The Python SDK over a bad network: real gateways (daphne on PostgreSQL + Redis) behind the fault
proxy of tests/weaknet. Every wait is bounded, so a misbehaving SDK fails a test instead of hanging it.

The connection manager's numbers are options; they are shrunk here so each scenario takes seconds,
except the reconnect ladder, whose defaults are the guarantee under test ("back within 1 s").
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from imcloud_sdk import Client, ConnectionState, pb

from tests.markers import requires_services
from tests.sdk.python.cloud import Cloud, Recorder, logged_in
from tests.weaknet.proxy import FaultProxy

pytestmark = [pytest.mark.live, requires_services]
P2P, TEAM = int(pb.CONVERSATION_TYPE_P2P), int(pb.CONVERSATION_TYPE_TEAM)


def upstream(cloud: Cloud, gateway: int) -> tuple[str, int]:
    return ("127.0.0.1", int(cloud.gateways.bases[gateway].rsplit(":", 1)[1]))


@dataclass
class States:
    """State events with the monotonic time the app was handed each."""

    seen: list[tuple[str, Any, float]] = field(default_factory=list)

    def attach(self, client: Client) -> States:
        client.on("state", lambda state, detail: self.seen.append((str(state), detail, time.monotonic())))
        return self

    def first(self, state: str, after: float) -> float | None:
        return next((at for name, _, at in self.seen if name == state and at >= after), None)

    async def wait(self, state: str, after: float, timeout: float) -> float:
        """When the app was first told ``state`` at or after ``after``."""
        await until(lambda: self.first(state, after) is not None, timeout, f"state {state}")
        at = self.first(state, after)
        assert at is not None
        return at


async def until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.02)


async def received(seen: Recorder, client: Client, expected: set[tuple[int, int]], timeout: float) -> None:
    """Wait for messages (conversation type, seq); on a timeout, say what is missing and what the
    client was doing about it."""
    try:
        await until(
            lambda: expected <= {(m.conversation_type, m.seq) for m in seen.messages},
            timeout,
            f"{len(expected)} messages for {client.accid}",
        )
    except AssertionError as exc:
        missing = sorted(expected - {(m.conversation_type, m.seq) for m in seen.messages})
        quiet = ("connect_failed", "race", "state", "connect_ok", "reconnect_wait", "pong")
        log = [e for e in client.dump_log() if e["event"] not in quiet]
        raise AssertionError(
            f"{exc}; missing {missing} of {len(expected)}, got {len(seen.messages)}; log {log}"
        ) from None


def log_events(client: Client, event: str) -> list[dict[str, Any]]:
    return [entry for entry in client.dump_log() if entry["event"] == event]


@pytest.fixture
async def proxy_a(cloud: Cloud) -> AsyncIterator[FaultProxy]:
    async with FaultProxy(upstream=upstream(cloud, 0)) as proxy:
        yield proxy


async def close_all(*clients: Client) -> None:
    for client in clients:
        await asyncio.wait_for(client.close(), 15)


async def test_racing_picks_the_live_endpoint_when_the_first_blackholes(
    cloud: Cloud, proxy_a: FaultProxy
) -> None:
    proxy_a.blackhole(True)
    client = Client(cloud.options(endpoints=[proxy_a.url(), cloud.gateways.ws(1)], race_interval=1.0))
    states = States().attach(client)
    try:
        started = time.monotonic()
        await asyncio.wait_for(client.login("alice", cloud.tokens["alice"]), 15)
        elapsed = time.monotonic() - started
        # The blackholed endpoint was tried first, swallowed the handshake and answered nothing; the
        # second attempt started one race_interval later and won.
        stats = proxy_a.stats
        assert (stats["accepted"], stats["bytes_down"], stats["bytes_up"]) == (1, 0, 0)
        assert stats["blackholed"] > 0
        assert 1.0 <= elapsed < 1.0 + 2.0, elapsed
        assert [e["url"] for e in log_events(client, "connect_ok")] == [cloud.gateways.ws(1)]
        await states.wait("connected", started, 5)
        assert [(name, detail) for name, detail, _ in states.seen][-1] == ("connected", cloud.gateways.ws(1))
        # Abandoned: the losing attempt's socket is closed by the client, not left to its timeout.
        await until(lambda: proxy_a.stats["active"] == 0, 5, "the blackholed attempt to be closed")
        assert proxy_a.stats["client_closed"] == 1
        assert (await asyncio.wait_for(client.send_text("bob", "through B"), 10)).seq == 1
    finally:
        await close_all(client)


async def test_the_heartbeat_learns_a_nat_idle_timeout_and_stays_under_it(
    cloud: Cloud, proxy_a: FaultProxy
) -> None:
    proxy_a.nat_idle_timeout = 3.5
    options = {
        "endpoints": [proxy_a.url()],
        "heartbeat_min": 1.0,
        "heartbeat_max": 8.0,
        "heartbeat_step": 1.0,
        "pong_timeout": 1.0,
        "heartbeat_probe_after": 2,
        "heartbeat_successes_per_step": 2,
    }
    async with asyncio.timeout(150):
        client, seen = await logged_in(cloud, "alice", **options)
        try:
            # Probing 1, 2, 3 s succeeds; 4 s outlives the NAT mapping twice: settle at 3 s.
            await until(
                lambda: any(e["phase"] == "settled" for e in log_events(client, "pong")),
                90,
                "the heartbeat to settle",
            )
            learned = {e["interval"] for e in log_events(client, "pong") if e["phase"] == "settled"}
            failures = log_events(client, "heartbeat_failed")
            kills, logins = proxy_a.stats["nat_kills"], client.stats["logins"]
            assert learned == {3.0}
            assert (len(failures), kills) == (2, 2), (failures, proxy_a.stats)
            settled_at = time.monotonic()
            # Then it stays up: several settled intervals, not one failure, no new link.
            await until(
                lambda: sum(e["phase"] == "settled" for e in log_events(client, "pong")) >= 5, 30, "5 pongs"
            )
            assert time.monotonic() - settled_at >= 3 * 3.0
            assert log_events(client, "heartbeat_failed") == failures
            assert (proxy_a.stats["nat_kills"], client.stats["logins"]) == (kills, logins)
            assert client.state is ConnectionState.CONNECTED
            assert (await asyncio.wait_for(client.send_text("bob", "still here"), 10)).seq == 1
            assert seen.errors == []
        finally:
            await close_all(client)


async def test_a_link_found_dead_is_replaced_at_once(cloud: Cloud, proxy_a: FaultProxy) -> None:
    """A missing pong proves the link dead: waiting for a close handshake over it only delays the
    reconnect (design: reconnect at once after an unexpected drop)."""
    async with asyncio.timeout(60):
        client, _ = await logged_in(
            cloud, "alice", endpoints=[proxy_a.url()], heartbeat_min=1.0, heartbeat_max=8.0, pong_timeout=1.0
        )
        try:
            await until(lambda: len(log_events(client, "pong")) >= 1, 10, "a first pong")
            proxy_a.stall(8.0)  # the open link goes silent; a new one is not affected
            await until(lambda: len(log_events(client, "heartbeat_failed")) == 1, 10, "the missed pong")
            failed_at = log_events(client, "heartbeat_failed")[0]["ts"]
            await until(lambda: client.stats["logins"] == 2, 15, "a new link")
            connected = [e["ts"] for e in log_events(client, "state") if e["state"] == "connected"]
            assert connected[-1] - failed_at < 1.0, (failed_at, connected)
        finally:
            await close_all(client)


async def test_two_clients_chat_exactly_once_in_order_over_flapping_links(cloud: Cloud) -> None:
    per_side, team_per_side = 120, 30
    team = (
        await cloud.acall(
            "POST", "/api/v1/teams", {"owner": "alice", "name": "Flaps", "members": ["bob", "carol"]}
        )
    )["team_id"]
    async with (
        asyncio.timeout(180),
        FaultProxy(upstream=upstream(cloud, 0)) as proxy_a,
        FaultProxy(upstream=upstream(cloud, 1)) as proxy_b,
    ):
        alice, alice_seen = await logged_in(cloud, "alice", endpoints=[proxy_a.url()])
        bob, bob_seen = await logged_in(cloud, "bob", endpoints=[proxy_b.url()])
        carol, carol_seen = await logged_in(cloud, "carol", endpoints=[cloud.gateways.ws(1)])
        try:
            proxy_a.flap(up=3.0, down=1.0)
            proxy_b.flap(up=2.3, down=0.8)

            async def talk(client: Client, name: str, peer: str) -> tuple[list[int], list[int]]:
                p2p: list[int] = []
                teamed: list[int] = []
                for n in range(per_side):
                    p2p.append((await client.send_text(peer, f"{name} {n:03d}")).seq)
                    if n % (per_side // team_per_side) == 0:
                        teamed.append((await client.send_text(team, f"{name} team {n:03d}", team=True)).seq)
                    await asyncio.sleep(0.1)  # spread the talk over several flaps
                return p2p, teamed

            # Both start at once, as people do: the first message of the new conversation races the
            # peer's own first send, so either side may hear its own ack before the other's push.
            (alice_p2p, alice_team), (bob_p2p, bob_team) = await asyncio.gather(
                talk(alice, "alice", "bob"), talk(bob, "bob", "alice")
            )
            proxy_a.stop_flapping()
            proxy_b.stop_flapping()
            expected_team = sorted(alice_team + bob_team)
            for seen, client, expected in (
                (bob_seen, bob, {(P2P, s) for s in alice_p2p} | {(TEAM, s) for s in alice_team}),
                (alice_seen, alice, {(P2P, s) for s in bob_p2p} | {(TEAM, s) for s in bob_team}),
                (carol_seen, carol, {(TEAM, s) for s in expected_team}),
            ):
                await received(seen, client, expected, 45)
            await asyncio.sleep(1.0)  # a duplicate, if any, would arrive now

            # Stored once each: the conversation seqs are exactly 1..N, nothing twice.
            assert sorted(alice_p2p + bob_p2p) == list(range(1, 2 * per_side + 1))
            assert expected_team == list(range(1, 2 * team_per_side + 1))
            for seen, peer, p2p, teamed in (
                (bob_seen, "alice", alice_p2p, alice_team),
                (alice_seen, "bob", bob_p2p, bob_team),
            ):
                direct = [m for m in seen.messages if m.conversation_type == P2P]
                assert [(m.seq, m.text) for m in direct] == [
                    (s, f"{peer} {n:03d}") for n, s in enumerate(p2p)
                ]
                in_team = [m for m in seen.messages if m.conversation_type == TEAM]
                assert [m.seq for m in in_team] == teamed
                assert all(m.from_accid == peer for m in seen.messages)
            assert [m.seq for m in carol_seen.messages] == expected_team
            for seen in (alice_seen, bob_seen, carol_seen):
                assert seen.errors == []
            # It really flapped, and the clients really came back each time.
            assert min(proxy_a.stats["downs"], proxy_b.stats["downs"]) >= 4
            assert min(alice.stats["logins"], bob.stats["logins"]) >= 4
        finally:
            await close_all(alice, bob, carol)


async def test_the_client_is_back_within_a_second_of_the_network_returning(
    cloud: Cloud, proxy_a: FaultProxy
) -> None:
    async with asyncio.timeout(120):
        client, _ = await logged_in(cloud, "alice", endpoints=[proxy_a.url()])
        states = States().attach(client)
        back: list[float] = []
        try:
            for round_ in range(4):
                proxy_a.down()
                await states.wait("disconnected", time.monotonic(), 5)
                await asyncio.sleep(5.0)  # a short outage: still inside the fast-retry window
                returned = time.monotonic()
                proxy_a.up()
                connected = await states.wait("connected", returned, 10)
                back.append(round(connected - returned, 3))
                ack = await asyncio.wait_for(client.send_text("bob", f"back {round_}"), 10)
                assert ack.seq == round_ + 1
            assert max(back) < 1.0, back
        finally:
            await close_all(client)


async def test_requests_complete_and_nothing_is_delivered_twice_under_latency_and_stalls(
    cloud: Cloud, proxy_a: FaultProxy
) -> None:
    proxy_a.latency, proxy_a.jitter = 0.15, 0.1
    async with asyncio.timeout(120):
        alice, alice_seen = await logged_in(
            cloud, "alice", endpoints=[proxy_a.url()], first_response_timeout=4.0
        )
        bob, bob_seen = await logged_in(cloud, "bob", endpoints=[cloud.gateways.ws(1)])
        try:
            acks = [await asyncio.wait_for(alice.send_text("bob", f"slow {n}"), 10) for n in range(5)]
            history = await asyncio.wait_for(alice.history("bob"), 10)
            assert [m.text for m in history] == [f"slow {n}" for n in range(5)]

            # A stall shorter than first_response_timeout: the link survives, the replies come late.
            proxy_a.stall(2.0)
            started = time.monotonic()
            sends = [asyncio.ensure_future(alice.send_text("bob", f"stalled {n}")) for n in range(5)]
            acks += await asyncio.wait_for(asyncio.gather(*sends), 15)
            assert time.monotonic() - started >= 2.0
            assert alice.stats["logins"] == 1

            # A longer one: the link is declared dead, a new one carries the same sends again, and
            # the originals held in the stalled link reach the server afterwards. Stored once each.
            long_stall = time.monotonic()
            proxy_a.stall(8.0)
            sends = [asyncio.ensure_future(alice.send_text("bob", f"resent {n}")) for n in range(5)]
            acks += await asyncio.wait_for(asyncio.gather(*sends), 30)
            assert alice.stats["logins"] == 2
            assert alice.stats["resent"] >= 5
            await asyncio.sleep(max(0.0, long_stall + 8.0 + 1.0 - time.monotonic()))  # the held bytes land

            texts = [f"slow {n}" for n in range(5)] + [f"stalled {n}" for n in range(5)]
            texts += [f"resent {n}" for n in range(5)]
            assert sorted(ack.seq for ack in acks) == list(range(1, 16))
            await bob_seen.wait(lambda: len(bob_seen.messages) >= 15, 20)
            await asyncio.sleep(0.5)
            assert [(m.seq, m.text) for m in bob_seen.messages] == [
                (ack.seq, text) for ack, text in sorted(zip(acks, texts, strict=True), key=lambda p: p[0].seq)
            ]
            await asyncio.wait_for(alice.sync(), 10)
            history = await asyncio.wait_for(alice.history("bob", limit=50), 10)
            assert [m.seq for m in history] == list(range(1, 16))
            assert alice_seen.errors + bob_seen.errors == []
        finally:
            await close_all(alice, bob)
