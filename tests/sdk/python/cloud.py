"""A live imcloud (daphne gateways on PostgreSQL + Redis) and SDK clients pointed at it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from imcloud_sdk import Client, ClientOptions, ConnectionState, ImError, pb

from tests.live import stack
from tests.live.stack import Gateways, free_port, manage, running_gateways, signed_call, stack_env

# Tight enough that a test of a failure takes seconds, not minutes; the defaults are for phones.
FAST = {"race_interval": 1.0, "connect_timeout": 8.0, "request_timeout": 30.0}


@dataclass
class Cloud:
    gateways: Gateways
    keys: dict[str, str]
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def app_key(self) -> str:
        return self.keys["app_key"]

    def call(self, method: str, path: str, body: Any = None) -> Any:
        return signed_call(self.gateways.bases[0], self.keys, method, path, body)

    async def acall(self, method: str, path: str, body: Any = None) -> Any:
        return await asyncio.to_thread(self.call, method, path, body)

    def user(self, accid: str) -> str:
        self.tokens[accid] = self.call("POST", "/api/v1/users", {"accid": accid})["token"]
        return self.tokens[accid]

    @property
    def lbs_url(self) -> str:
        return self.gateways.bases[0] + "/api/v1/lbs"

    def options(
        self, *, endpoints: list[str] | None = None, device: str = "phone", **extra: Any
    ) -> ClientOptions:
        values: dict[str, Any] = {**FAST, **extra}
        return ClientOptions(
            app_key=values.pop("app_key", self.app_key),
            endpoints=endpoints if endpoints is not None else [self.gateways.ws(0), self.gateways.ws(1)],
            device_id=device,
            **values,
        )


@dataclass
class Recorder:
    """Everything a client's events handed over, in order."""

    messages: list[pb.Message] = field(default_factory=list)
    states: list[str] = field(default_factory=list)
    errors: list[ImError] = field(default_factory=list)
    receipts: list[pb.ReceiptNotice] = field(default_factory=list)
    recalls: list[pb.Message] = field(default_factory=list)
    teams: list[pb.TeamNotice] = field(default_factory=list)

    def attach(self, client: Client) -> Recorder:
        client.on("message", self.messages.append)
        client.on("state", lambda state, detail: self.states.append(str(state)))
        client.on("error", self.errors.append)
        client.on("receipt", self.receipts.append)
        client.on("recall", self.recalls.append)
        client.on("team", self.teams.append)
        return self

    def texts(self, target: str | None = None) -> list[str]:
        return [m.text for m in self.messages if target is None or m.target == target]

    async def wait(self, predicate: Callable[[], bool], timeout: float = 30.0) -> None:
        async with asyncio.timeout(timeout):
            while not predicate():
                await asyncio.sleep(0.05)


def start_cloud(
    tmp_path: Path, database: str, redis_url: str, users: tuple[str, ...], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Cloud]:
    # The ports are chosen first so that the LBS can hand out the gateways' real addresses.
    ports = [free_port(), free_port()]
    gateway_urls = ",".join(f"ws://127.0.0.1:{port}/ws" for port in ports)
    env = stack_env(tmp_path, DATABASE_URL=database, REDIS_URL=redis_url, IMCLOUD_GATEWAY_URLS=gateway_urls)
    monkeypatch.setattr(stack, "free_port", iter(ports).__next__)
    with running_gateways(env, 2, tmp_path) as gateways:
        assert gateways.bases == [f"http://127.0.0.1:{port}" for port in ports]
        keys = json.loads(manage(env, "create_app", "--owner-email", "dev@example.com", "--name", "SDK"))
        cloud = Cloud(gateways, keys)
        for accid in users:
            cloud.user(accid)
        yield cloud


async def logged_in(cloud: Cloud, accid: str, **options: Any) -> tuple[Client, Recorder]:
    client = Client(cloud.options(**options))
    recorder = Recorder().attach(client)
    await client.login(accid, cloud.tokens[accid])
    assert client.state is ConnectionState.CONNECTED
    return client, recorder
