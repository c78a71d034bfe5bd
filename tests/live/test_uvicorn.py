"""The gateway under uvicorn (scripts/run.py --server uvicorn): two processes on PostgreSQL and
Redis, real WebSocket clients, both encodings; the same application as under daphne."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import websockets

from apps.protocol import codec
from tests.gateway_client import GatewayClient
from tests.live.stack import http, manage, running_gateways, signed_headers, stack_env
from tests.markers import requires_services

pytestmark = [pytest.mark.live, requires_services]


async def test_two_uvicorn_gateways_log_in_send_and_deliver(
    tmp_path: Path, live_database: str, live_redis: str
):
    env = stack_env(tmp_path, DATABASE_URL=live_database, REDIS_URL=live_redis)
    with running_gateways(env, 2, tmp_path, server="uvicorn") as gateways:
        keys = json.loads(manage(env, "create_app", "--owner-email", "dev@example.com", "--name", "Uv"))
        tokens = {}
        for accid in ("alice", "bob"):
            created = http("POST", gateways.bases[0] + "/api/v1/users", {"accid": accid}, signed(keys))
            assert created.status == 201, created.body
            tokens[accid] = created.json()["token"]

        async def client(index: int, accid: str, encoding: codec.Encoding) -> GatewayClient:
            opened = await GatewayClient(gateways.ws(index), encoding).connect()
            result = await opened.login(
                app_key=keys["app_key"], accid=accid, token=tokens[accid], device_id="d"
            )
            assert result.WhichOneof("body") == "login_result", result
            return opened

        alice = await client(0, "alice", codec.Encoding.PROTO)
        bob = await client(1, "bob", codec.Encoding.JSON)
        ack = (await alice.send_text("bob", "over uvicorn", "u-1")).send_ack
        pushed = (await bob.next_push("message")).message
        reply = (await bob.send_text("alice", "and back", "u-2")).send_ack
        back = (await alice.next_push("message")).message
        assert (ack.seq, ack.duplicate) == (1, False)
        assert (pushed.seq, pushed.text, pushed.from_accid, pushed.server_msg_id) == (
            1,
            "over uvicorn",
            "alice",
            ack.server_msg_id,
        )
        assert (reply.seq, back.seq, back.text) == (2, 2, "and back")
        # A client offering no subprotocol we speak is refused at the handshake, as under daphne.
        with pytest.raises(websockets.InvalidStatus) as refused:
            await websockets.connect(gateways.ws(0), subprotocols=["bogus"])  # type: ignore[list-item]
        assert refused.value.response.status_code == 403
        # Team fan-out crosses the processes too.
        team = http(
            "POST",
            gateways.bases[1] + "/api/v1/teams",
            {"owner": "alice", "name": "Uv", "members": ["bob"]},
            signed(keys),
        ).json()
        await alice.send_text(team["team_id"], "to the team", "u-3", team=True)
        assert (await bob.next_push("message")).message.text == "to the team"
        for opened in (alice, bob):
            await opened.close()


def signed(keys: dict[str, str]) -> dict[str, str]:
    return signed_headers(keys["app_key"], keys["app_secret"])  # a fresh nonce per call
