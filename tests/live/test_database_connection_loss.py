"""PostgreSQL drops the gateways' connections (a restart, a failover, an administrator): the gateway
keeps its connection without checking it before each call (apps/gateway/db.py), so a send batch
that meets a dead connection is stored again on a new one (apps/gateway/batching.py), and any
other request finds a fresh connection at the latest on its second try."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import psycopg
import pytest

from apps.gateway.db import IDLE_CHECK_SECONDS
from apps.protocol import imcloud_pb2 as pb
from tests.gateway_client import GatewayClient
from tests.live.conftest import ADMIN_URL
from tests.live.stack import create_users, manage, running_gateways, stack_env
from tests.markers import requires_services

pytestmark = [pytest.mark.live, requires_services]


def terminate_backends(database_url: str) -> list[bool]:
    """End every server process on the database but our own, as PostgreSQL does when it stops."""
    name = database_url.rsplit("/", 1)[1]
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchall()
    return [row[0] for row in rows]


async def test_gateway_survives_postgres_dropping_its_connection(
    tmp_path: Path, live_database: str, live_redis: str
) -> None:
    env = stack_env(tmp_path, DATABASE_URL=live_database, REDIS_URL=live_redis)
    with running_gateways(env, 2, tmp_path) as gateways:
        keys = json.loads(manage(env, "create_app", "--owner-email", "dev@example.com", "--name", "Db"))
        tokens = create_users(gateways.bases[0], keys, ("alice", "bob"))
        clients = []
        for index, accid in enumerate(("alice", "bob")):
            client = await GatewayClient(gateways.ws(index)).connect()
            logged_in = await client.login(app_key=keys["app_key"], accid=accid, token=tokens[accid])
            assert logged_in.WhichOneof("body") == "login_result", logged_in
            clients.append(client)
        alice, bob = clients
        there = await alice.send_text("bob", "before", "a-1")
        assert (await bob.next_push("message")).message.text == "before"
        back = await bob.send_text("alice", "back", "b-1")
        assert (await alice.next_push("message")).message.text == "back"
        assert (there.send_ack.seq, back.send_ack.seq) == (1, 2)

        # Each gateway process holds a connection (CONN_MAX_AGE), used by the sends just made.
        terminated = terminate_backends(live_database)
        assert len(terminated) >= 2
        assert all(terminated)

        after = await alice.send_text("bob", "after the drop", "a-2")
        assert after.WhichOneof("body") == "send_ack", after
        assert (after.send_ack.seq, after.send_ack.duplicate) == (3, False)
        pushed = (await bob.next_push("message")).message
        assert (pushed.seq, pushed.text, pushed.server_msg_id) == (
            3,
            "after the drop",
            after.send_ack.server_msg_id,
        )
        again = await alice.send_text("bob", "after the drop", "a-2")
        assert (again.WhichOneof("body"), again.send_ack.server_msg_id, again.send_ack.seq) == (
            "send_ack",
            after.send_ack.server_msg_id,
            3,
        )
        assert again.send_ack.duplicate

        # Other requests: the first on a dropped connection may fail (its outcome is not looked at).
        for client in clients:
            await client.request(sync=pb.SyncRequest())
        synced = [await client.request(sync=pb.SyncRequest()) for client in clients]
        assert [
            (frame.WhichOneof("body"), [c.last_seq for c in frame.sync_result.conversations])
            for frame in synced
        ] == [("sync_result", [3]), ("sync_result", [3])]
        # After a pause, a gateway checks its connection before using it (apps/gateway/db.py):
        # once PostgreSQL has dropped it, the very first request of any kind succeeds.
        assert all(terminate_backends(live_database))
        await asyncio.sleep(IDLE_CHECK_SECONDS + 0.5)
        first = [await client.request(sync=pb.SyncRequest()) for client in clients]
        assert [frame.WhichOneof("body") for frame in first] == ["sync_result", "sync_result"]
        newcomer = await GatewayClient(gateways.ws(1)).connect()
        logged_in = await newcomer.login(
            app_key=keys["app_key"], accid="alice", token=tokens["alice"], device_id="d2"
        )
        assert logged_in.WhichOneof("body") == "login_result", logged_in
        for client in [*clients, newcomer]:
            await client.close()
