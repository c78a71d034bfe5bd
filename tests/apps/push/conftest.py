"""Local provider servers for the push tests: one per test module, with the clients closed after."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from apps.push.providers import close_clients
from tests.push_servers.apns import ApnsServer
from tests.push_servers.webpush import WebPushServer


@pytest.fixture(scope="module")
def apns() -> Iterator[ApnsServer]:
    server = ApnsServer()
    server.start()
    yield server
    close_clients()
    server.stop()


@pytest.fixture(scope="module")
def webpush() -> Iterator[WebPushServer]:
    server = WebPushServer()
    server.start()
    yield server
    close_clients()
    server.stop()
