"""The fast paths of fan-out: acks before routing, presence per process, cached team rosters."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from django.conf import settings

from apps.gateway import batching
from apps.gateway.presence import MemoryPresence, PresenceStore, RedisPresence, SessionEntry, presence_store
from apps.gateway.rosters import RosterCache
from apps.messaging.models import ConversationMember
from apps.teams.services import team_add_members, team_create
from tests.apps.gateway.conftest import db_async

LATER = 10**10  # an expiry far in the future


def _entry(session: str, user_id: int, process: str, expires_at: float = LATER) -> SessionEntry:
    return SessionEntry(session, user_id, process, "mobile", f"device-{session}", expires_at)


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest) -> Iterator[PresenceStore]:
    if request.param == "memory":
        yield MemoryPresence()
        return
    if not settings.REDIS_URL:
        pytest.skip("Redis is not up (CI requires it)")
    namespace = f"test-presence-{uuid.uuid4().hex[:10]}"
    yield RedisPresence(settings.REDIS_URL, namespace)
    client = redis.Redis.from_url(settings.REDIS_URL)
    keys = list(client.scan_iter(f"{namespace}:*"))
    if keys:
        client.delete(*keys)


def test_processes_lists_who_is_where(store: PresenceStore) -> None:
    store.put([_entry("a1", 1, "gw.one"), _entry("a2", 1, "gw.one"), _entry("b1", 2, "gw.two")])
    store.put([_entry("c1", 3, "gw.two"), _entry("c2", 3, "gw.one")])
    assert store.processes([1, 2, 3, 4]) == {"gw.one": {1, 3}, "gw.two": {2, 3}}
    assert store.processes([4]) == {}


def test_a_user_stays_on_a_process_until_their_last_session_there_is_dropped(store: PresenceStore) -> None:
    store.put([_entry("a1", 1, "gw.one"), _entry("a2", 1, "gw.one"), _entry("a3", 1, "gw.two")])
    store.drop(1, "a1")
    assert store.processes([1]) == {"gw.one": {1}, "gw.two": {1}}
    store.drop(1, "a2")
    assert store.processes([1]) == {"gw.two": {1}}
    # Moving back: a new login on the first process makes the user reachable there again.
    store.put([_entry("a4", 1, "gw.one")])
    assert store.processes([1]) == {"gw.one": {1}, "gw.two": {1}}
    store.drop(1, "a3")
    store.drop(1, "a3")  # dropping twice changes nothing
    assert store.processes([1]) == {"gw.one": {1}}


def test_a_process_whose_presence_expired_is_not_routed_to(store: PresenceStore) -> None:
    store.put([_entry("a1", 1, "gw.gone", expires_at=time.time() - 1), _entry("b1", 2, "gw.live")])
    assert store.processes([1, 2]) == {"gw.live": {2}}


async def test_a_large_roster_is_answered_whole(store: PresenceStore) -> None:
    online = [_entry(f"s{n}", n, "gw.one" if n % 2 else "gw.two") for n in range(1, 5001, 3)]
    store.put(online)
    where = await store.aprocesses(range(1, 6001))
    assert where == {
        "gw.one": {e.user_id for e in online if e.process == "gw.one"},
        "gw.two": {e.user_id for e in online if e.process == "gw.two"},
    }


@pytest.mark.django_db(transaction=True)
async def test_the_ack_does_not_wait_for_routing(
    app: Any, users: Any, connect: Any, monkeypatch: Any
) -> None:
    released = asyncio.Event()
    real_route = batching.route_async

    async def held_route(groups: Any) -> int:
        await released.wait()
        return await real_route(groups)

    monkeypatch.setattr(batching, "route_async", held_route)
    alice, bob = await connect("alice"), await connect("bob")
    ack = await alice.send_text("bob", "ack me first", "c-1")
    assert ack.send_ack.seq == 1
    assert await bob.no_push() == []
    released.set()
    delivered = await bob.next_push("message")
    assert (delivered.message.seq, delivered.message.text) == (1, "ack me first")


@pytest.mark.django_db(transaction=True)
async def test_a_cached_roster_follows_membership_changes(app: Any, users: Any) -> None:
    team = await db_async(team_create)(app=app, owner="alice", name="Crew", members=["bob"])
    alice, bob, carol = users["alice"].pk, users["bob"].pk, users["carol"].pk
    cache = RosterCache()
    assert sorted((await cache.get_many([team.pk]))[team.pk]) == [alice, bob]
    # A change through the team services moves the roster's version after commit.
    await db_async(team_add_members)(app=app, team_id=str(team.pk), operator="alice", accids=["carol"])
    assert sorted((await cache.get_many([team.pk]))[team.pk]) == [alice, bob, carol]
    # The cache is what serves messages: a row removed behind the services' back is only seen
    # once the version moves.
    await db_async(ConversationMember.objects.filter(conversation_id=team.pk, user_id=carol).delete)()
    assert sorted((await cache.get_many([team.pk]))[team.pk]) == [alice, bob, carol]
    presence_store().roster_changed(team.pk)
    assert sorted((await cache.get_many([team.pk]))[team.pk]) == [alice, bob]


@pytest.mark.django_db(transaction=True)
async def test_a_member_added_to_a_team_receives_its_next_message_live(
    app: Any, users: Any, connect: Any
) -> None:
    team = await db_async(team_create)(app=app, owner="alice", name="Crew", members=["bob"])
    alice, bob, carol = await connect("alice"), await connect("bob"), await connect("carol")
    await alice.send_text(str(team.pk), "before carol", "t-1", team=True)
    assert (await bob.next_push("message")).message.text == "before carol"
    await db_async(team_add_members)(app=app, team_id=str(team.pk), operator="alice", accids=["carol"])
    await alice.send_text(str(team.pk), "with carol", "t-2", team=True)
    assert (await bob.next_push("message")).message.text == "with carol"
    received = await carol.next_push("message")
    assert (received.message.seq, received.message.text) == (2, "with carol")
