from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from channels.db import database_sync_to_async

from apps.protocol import imcloud_pb2 as pb
from tests.factories import AppFactory, ImUserFactory
from tests.gateway_communicator import CommClient


@pytest.fixture
def app(db: Any) -> Any:
    return AppFactory()


@pytest.fixture
def users(app: Any) -> dict[str, Any]:
    return {accid: ImUserFactory(app=app, accid=accid) for accid in ("alice", "bob", "carol")}


@pytest.fixture
async def connect(app: Any) -> AsyncIterator[Callable[..., Any]]:
    """Open logged-in clients; all are closed at the end of the test."""
    opened: list[CommClient] = []

    async def open_client(accid: str | None = None, *, login: bool = True, **kwargs: Any) -> CommClient:
        client = await CommClient(
            **{k: kwargs.pop(k) for k in ("encoding", "subprotocols") if k in kwargs}
        ).connect()
        opened.append(client)
        if login and accid is not None:
            result = await client.login(app_key=app.app_key, accid=accid, **kwargs)
            assert result.WhichOneof("body") == "login_result", result
        return client

    yield open_client
    for client in opened:
        await client.close()


def p2p(target: str) -> dict[str, Any]:
    return {"conversation_type": pb.CONVERSATION_TYPE_P2P, "target": target}


db_async = database_sync_to_async
