"""The TypeScript SDK in Node 20 against two real daphne gateways on PostgreSQL and Redis.

The scenarios are node:test files (sdk_clients/typescript/test/live/); this test starts the stack,
creates the app and its users with signed REST calls, runs them and requires every one to pass.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.live.stack import create_users, running_gateways, stack_env
from tests.markers import requires_services
from tests.sdk.typescript.node import build_tests, create_app, run_node_tests, users_env
from tests.weaknet.proxy import FaultProxy

pytestmark = [pytest.mark.live, requires_services]

SCENARIOS = 6  # the tests in test/live/chat.test.ts
WEAKNET_SCENARIOS = 2  # the tests in test/live/weaknet.test.ts


def test_node_sdk_against_live_gateways(tmp_path: Path, live_database: str, live_redis: str) -> None:
    build_tests()
    env = stack_env(tmp_path, DATABASE_URL=live_database, REDIS_URL=live_redis)
    with running_gateways(env, 2, tmp_path) as gateways:
        keys = create_app(env)
        tokens = create_users(gateways.bases[0], keys, ("alice", "bob", "carol"))
        run = run_node_tests(["build/test/live/chat.test.js"], users_env(gateways, keys, tokens))
    assert run.returncode == 0, run.output
    assert (run.count("pass"), run.count("fail")) == (SCENARIOS, 0), run.output


def test_node_sdk_through_a_faulty_network(tmp_path: Path, live_database: str, live_redis: str) -> None:
    build_tests()
    env = stack_env(tmp_path, DATABASE_URL=live_database, REDIS_URL=live_redis)
    with running_gateways(env, 1, tmp_path) as gateways:
        keys = create_app(env)
        tokens = create_users(gateways.bases[0], keys, ("alice", "bob"))
        upstream = ("127.0.0.1", int(gateways.bases[0].rsplit(":", 1)[1]))
        with (
            FaultProxy.start_in_thread(upstream) as flapping,
            FaultProxy.start_in_thread(upstream, nat_idle_timeout=4.0) as nat,
        ):
            flapping.flap(up=3.0, down=1.0)
            proxies = {"IMCLOUD_FLAP_WS": flapping.url(), "IMCLOUD_NAT_WS": nat.url()}
            node_env = {**users_env(gateways, keys, tokens), **proxies}
            run = run_node_tests(["build/test/live/weaknet.test.js"], node_env)
            flap_stats, nat_stats = flapping.stats, nat.stats
    assert run.returncode == 0, run.output
    assert (run.count("pass"), run.count("fail")) == (WEAKNET_SCENARIOS, 0), run.output
    assert flap_stats["resets"] > 0, flap_stats
    assert nat_stats["nat_dropped"] > 0, nat_stats
