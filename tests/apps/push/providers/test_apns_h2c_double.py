"""The APNs double served by the lean h2c front end (tests/push_servers/h2c.py) instead of hypercorn.

The push benchmark runs the double this way (bench/push_server.py --front h2c). Driven here by the
project's APNs client as test_apns.py drives the hypercorn-served double: same checks, same answers.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from apps.push.providers import PROVIDERS, DeviceTarget, Notification, ProviderResult, transport
from apps.push.providers import apns as apns_module
from tests.apps.push.providers.common import APNS_TOKEN
from tests.apps.push.providers.common import apns_send as send
from tests.push_servers.apns import ApnsServer

apns = PROVIDERS["apns"]
SLOW_TOKEN = "b2" * 32


@pytest.fixture(scope="module")
def h2c_server() -> Iterator[ApnsServer]:
    server = ApnsServer()
    server.start_h2c()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def h2c_credentials(h2c_server: ApnsServer) -> dict[str, Any]:
    return apns.validate_credentials(h2c_server.new_team_key())


@pytest.fixture(autouse=True)
def use_h2c(push_env: None, settings: Any, h2c_server: ApnsServer) -> Iterator[None]:
    """After push_env: the APNs URLs point at the h2c-served double, which starts each test afresh."""
    settings.IMCLOUD = {
        **settings.IMCLOUD,
        "PUSH_APNS_SANDBOX_URL": h2c_server.url,
        "PUSH_APNS_PRODUCTION_URL": h2c_server.url,
    }
    h2c_server.reset()
    yield
    assert h2c_server.errors == []


def apns_request(credentials: dict[str, Any]) -> tuple[dict[str, str], bytes]:
    """The headers and body the APNs client sends, for an async client to send them."""
    stored = apns_module._stored_credentials(credentials)
    notification = Notification(title="Hi", body="Hello")
    headers = apns_module.build_headers(
        notification, topic=stored.bundle_id, bearer=apns_module._sign(stored).value
    )
    return headers, transport.compact_json(apns_module.build_payload(notification))


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.005)
    assert condition()


def test_a_delivered_notification_is_recorded_with_its_headers_payload_and_jwt(
    h2c_server: ApnsServer, h2c_credentials: dict[str, Any]
) -> None:
    notification = Notification(
        title="alice",
        body="lunch?",
        badge=3,
        sound="ping.caf",
        collapse_id="conv-42",
        data={"conv": "p2p:alice"},
        ttl=3600,
        priority="high",
    )

    result = send(h2c_credentials, notification)

    assert result == ProviderResult("delivered", 200, "", None, "")
    [request] = h2c_server.requests
    assert (request.method, request.path, request.query, request.http_version) == (
        "POST",
        f"/3/device/{APNS_TOKEN}",
        "",
        "2",
    )
    assert request.raw_headers[0] == ("host", f"127.0.0.1:{h2c_server.port}")
    assert h2c_server.connections == {request.client}
    [received] = h2c_server.delivered
    assert (received.token, received.http_version) == (APNS_TOKEN, "2")
    assert received.headers["apns-topic"] == "com.example.app"
    assert received.headers["apns-push-type"] == "alert"
    assert received.headers["apns-priority"] == "10"
    assert received.headers["apns-collapse-id"] == "conv-42"
    assert abs(int(received.headers["apns-expiration"]) - (time.time() + 3600)) <= 2
    assert received.payload == {
        "conv": "p2p:alice",
        "aps": {"alert": {"title": "alice", "body": "lunch?"}, "badge": 3, "sound": "ping.caf"},
    }
    assert received.jwt == received.headers["authorization"].removeprefix("bearer ")
    assert received.jwt_header == {"alg": "ES256", "kid": "KEY1234567", "typ": "JWT"}
    assert received.jwt_claims["iss"] == "TEAM123456"
    assert h2c_server.jwts_accepted == [received.jwt]


def test_the_request_is_the_one_the_hypercorn_front_builds(
    apns_server: ApnsServer,
    apns_credentials: dict[str, Any],
    h2c_server: ApnsServer,
    h2c_credentials: dict[str, Any],
    settings: Any,
) -> None:
    send(h2c_credentials)
    settings.IMCLOUD = {**settings.IMCLOUD, "PUSH_APNS_SANDBOX_URL": apns_server.url}
    send(apns_credentials)

    [via_h2c], [via_hypercorn] = h2c_server.requests, apns_server.requests
    varying = {"host", "authorization", "apns-expiration"}  # the port, the key, the second
    assert [(name, value) for name, value in via_h2c.raw_headers if name not in varying] == [
        (name, value) for name, value in via_hypercorn.raw_headers if name not in varying
    ]
    assert [name for name, _ in via_h2c.raw_headers] == [name for name, _ in via_hypercorn.raw_headers]
    assert (via_h2c.method, via_h2c.path, via_h2c.query, via_h2c.body, via_h2c.http_version) == (
        via_hypercorn.method,
        via_hypercorn.path,
        via_hypercorn.query,
        via_hypercorn.body,
        via_hypercorn.http_version,
    )


@pytest.mark.parametrize(
    ("status", "reason", "retry_after", "outcome", "expected_retry_after"),
    [
        (410, "Unregistered", None, "dead_token", None),
        (400, "BadDeviceToken", None, "dead_token", None),
        (403, "InvalidProviderToken", None, "failed", None),
        (429, "TooManyRequests", "30", "retry", 30.0),
        (503, "ServiceUnavailable", None, "retry", None),
    ],
)
def test_error_answers_map_to_outcomes(
    h2c_server: ApnsServer,
    h2c_credentials: dict[str, Any],
    status: int,
    reason: str,
    retry_after: str | None,
    outcome: str,
    expected_retry_after: float | None,
) -> None:
    h2c_server.set_error(APNS_TOKEN, status, reason, retry_after=retry_after)

    result = send(h2c_credentials)

    assert (result.outcome, result.status, result.detail, result.retry_after) == (
        outcome,
        status,
        reason,
        expected_retry_after,
    )
    assert f'"reason": "{reason}"' in result.response
    assert h2c_server.delivered == []


def test_a_410_answer_carries_the_timestamp(h2c_server: ApnsServer, h2c_credentials: dict[str, Any]) -> None:
    h2c_server.set_error(APNS_TOKEN, 410, "Unregistered")

    result = send(h2c_credentials)

    assert (result.outcome, result.detail) == ("dead_token", "Unregistered")
    assert '"timestamp"' in result.response


def test_the_double_s_own_checks_answer_too(h2c_server: ApnsServer, h2c_credentials: dict[str, Any]) -> None:
    result = send(h2c_credentials, device=DeviceTarget("apns", APNS_TOKEN, bundle_id="com.example.unknown"))

    assert (result.outcome, result.status, result.detail) == ("failed", 400, "TopicDisallowed")
    assert len(h2c_server.requests) == 1


def test_a_delayed_answer_does_not_hold_up_a_send_from_another_thread(
    h2c_server: ApnsServer, h2c_credentials: dict[str, Any]
) -> None:
    h2c_server.delay(SLOW_TOKEN, 1.0)
    started = time.monotonic()

    with ThreadPoolExecutor(max_workers=1) as pool:
        slow = pool.submit(send, h2c_credentials, device=DeviceTarget("apns", SLOW_TOKEN))
        wait_until(lambda: len(h2c_server.requests) == 1)
        fast = send(h2c_credentials)
        fast_done = time.monotonic() - started
        slow_result = slow.result()
    slow_done = time.monotonic() - started

    assert (fast.outcome, slow_result.outcome) == ("delivered", "delivered")
    assert fast_done < 0.5
    assert slow_done >= 1.0
    assert [received.token for received in h2c_server.delivered] == [SLOW_TOKEN, APNS_TOKEN]


def test_a_delayed_answer_does_not_hold_up_another_stream_of_its_connection(
    h2c_server: ApnsServer, h2c_credentials: dict[str, Any]
) -> None:
    # The APNs client keeps one connection per thread, so two streams in flight on one connection
    # come from an async client sending the APNs client's requests.
    headers, body = apns_request(h2c_credentials)
    h2c_server.delay(SLOW_TOKEN, 1.0)

    async def post(client: httpx.AsyncClient, token: str, started: float) -> tuple[int, float]:
        response = await client.post(f"{h2c_server.url}/3/device/{token}", headers=headers, content=body)
        return response.status_code, time.monotonic() - started

    async def recorded(count: int) -> None:
        deadline = time.monotonic() + 5
        while len(h2c_server.requests) < count and time.monotonic() < deadline:
            await asyncio.sleep(0.005)

    async def main() -> tuple[tuple[int, float], tuple[int, float]]:
        async with httpx.AsyncClient(
            http1=False, http2=True, limits=httpx.Limits(max_connections=1)
        ) as client:
            started = time.monotonic()
            slow = asyncio.create_task(post(client, SLOW_TOKEN, started))
            await recorded(1)
            fast = await post(client, APNS_TOKEN, started)
            return fast, await slow

    (fast_status, fast_done), (slow_status, slow_done) = asyncio.run(main())

    assert (fast_status, slow_status) == (200, 200)
    assert fast_done < 0.5
    assert slow_done >= 1.0
    assert h2c_server.connection_count == 1
    assert [received.token for received in h2c_server.delivered] == [SLOW_TOKEN, APNS_TOKEN]


def test_2000_sends_share_one_connection(h2c_server: ApnsServer, h2c_credentials: dict[str, Any]) -> None:
    tokens = [f"{i:064x}" for i in range(2000)]

    results = [send(h2c_credentials, device=DeviceTarget("apns", token)) for token in tokens]

    assert [result.outcome for result in results] == ["delivered"] * 2000
    assert [received.token for received in h2c_server.delivered] == tokens
    assert h2c_server.connection_count == 1
    assert len(h2c_server.jwts_accepted) == 1


def test_500_streams_in_flight_at_once_on_one_connection(
    h2c_server: ApnsServer, h2c_credentials: dict[str, Any]
) -> None:
    headers, body = apns_request(h2c_credentials)
    tokens = [f"{i:064x}" for i in range(500)]

    async def main() -> list[int]:
        async with httpx.AsyncClient(
            http1=False, http2=True, limits=httpx.Limits(max_connections=1)
        ) as client:
            responses = await asyncio.gather(
                *(
                    client.post(f"{h2c_server.url}/3/device/{token}", headers=headers, content=body)
                    for token in tokens
                )
            )
        return [response.status_code for response in responses]

    statuses = asyncio.run(main())

    assert statuses == [200] * 500
    assert sorted(received.token for received in h2c_server.delivered) == tokens
    assert h2c_server.connection_count == 1


def test_an_http1_client_is_refused_and_the_server_goes_on(
    h2c_server: ApnsServer, h2c_credentials: dict[str, Any]
) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.post(f"{h2c_server.url}/3/device/{APNS_TOKEN}", content=b"{}")
    with socket.create_connection((h2c_server.host, h2c_server.port), timeout=5) as sock:
        sock.sendall(b"POST /3/device/x HTTP/1.1\r\nhost: apns\r\ncontent-length: 0\r\n\r\n")
        answer = sock.makefile("rb").read()  # to EOF: the server closed the connection

    assert b"HTTP/1.1" not in answer
    assert h2c_server.requests == []
    assert h2c_server.errors == []
    assert send(h2c_credentials).outcome == "delivered"
    assert len(h2c_server.delivered) == 1
