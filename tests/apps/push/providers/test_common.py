"""What holds for every provider: the registry, network failures, timeouts, the client cache."""

from __future__ import annotations

import multiprocessing
import os
import time
from typing import Any

import pytest

from apps.push.providers import OUTCOMES, PROVIDERS, Notification, ProviderResult, config, tokens, transport
from apps.push.providers.base import PROVIDER_NAMES
from tests.apps.push.providers.common import FCM_TOKEN, Case
from tests.push_servers.fcm import FcmServer

NAMES = list(PROVIDER_NAMES)
NOTIFICATION = Notification(title="Hi", body="Hello", badge=1, collapse_id="c1", data={"k": "v"})


def send(case: Case, **overrides: Any) -> ProviderResult:
    device = overrides.get("device", case.device)
    return case.provider.send(notification=NOTIFICATION, device=device, credentials=case.credentials)


def test_the_registry_names_every_provider() -> None:
    assert sorted(PROVIDERS) == sorted(PROVIDER_NAMES)
    assert {name: provider.name for name, provider in PROVIDERS.items()} == {name: name for name in PROVIDERS}


@pytest.mark.parametrize("name", NAMES)
def test_every_provider_delivers_to_its_local_server(cases: dict[str, Case], name: str) -> None:
    case = cases[name]

    result = send(case)

    assert result.outcome == "delivered"
    assert result.outcome in OUTCOMES
    assert 200 <= result.status < 300
    assert case.server.connection_count == 1


@pytest.mark.parametrize("name", NAMES)
def test_a_refused_connection_is_a_retry_without_status(
    settings: Any, cases: dict[str, Case], closed_port: int, name: str
) -> None:
    changes, device = cases[name].point_at(f"http://127.0.0.1:{closed_port}")
    settings.IMCLOUD = {**settings.IMCLOUD, **changes}

    result = send(cases[name], device=device)

    assert (result.outcome, result.status, result.response) == ("retry", 0, "")
    assert result.detail.startswith("NetworkError: ConnectError")


@pytest.mark.parametrize("name", NAMES)
def test_a_slow_answer_is_a_retry_within_the_total_timeout(
    monkeypatch: pytest.MonkeyPatch, cases: dict[str, Case], name: str
) -> None:
    monkeypatch.setattr(config, "TOTAL_TIMEOUT", 0.3)
    case = cases[name]
    case.server.delay(case.key, 1.0)

    started = time.monotonic()
    result = send(case)

    assert (result.outcome, result.status) == ("retry", 0)
    assert result.detail.startswith("Timeout")
    assert time.monotonic() - started < 0.9


def test_the_timeouts_are_5_s_to_connect_and_10_s_in_all() -> None:
    timeout = transport.Deadline().timeout()

    assert (config.CONNECT_TIMEOUT, config.TOTAL_TIMEOUT) == (5.0, 10.0)
    assert timeout.connect == 5.0
    assert timeout.read == pytest.approx(10.0, abs=0.1)


def test_an_exhausted_deadline_sends_nothing(fcm_server: FcmServer, cases: dict[str, Case]) -> None:
    deadline = transport.Deadline(total=0)

    result = transport.post(
        transport.client_for(fcm_server.url), fcm_server.url, deadline=deadline, headers={}, content=b""
    )

    assert result == ProviderResult("retry", 0, "Timeout: no time left for the request")
    assert fcm_server.requests == []


def test_response_bodies_are_cut_to_2000_characters(fcm_server: FcmServer, cases: dict[str, Case]) -> None:
    fcm_server.set_error(FCM_TOKEN, 500, "INTERNAL", message="x" * 5000)

    result = send(cases["fcm"])

    assert result.outcome == "retry"
    assert len(result.response) == 2000


@pytest.mark.parametrize(
    ("header", "expected"),
    [("120", 120.0), ("garbage", None), ("", None), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0)],
)
def test_retry_after_values(header: str, expected: float | None) -> None:
    response = transport.httpx.Response(429, headers={"retry-after": header})

    assert transport.retry_after(response) == expected


def test_the_client_cache_keeps_the_most_recent_origins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(config, "CLIENT_CACHE_SIZE", 2)
    first = transport.client_for("https://a.example/x")
    transport.client_for("https://b.example/y")
    transport.client_for("https://a.example/other-path")  # a is now the most recent
    transport.client_for("https://c.example/z")

    assert transport.cached_client_count() == 2
    assert transport.client_for("https://a.example/") is first
    assert not first.is_closed


def _exit_with_inherited_state() -> None:
    os._exit(transport.cached_client_count() + sum(len(cache) for cache in list(tokens._ALL_CACHES)))


def test_a_forked_worker_starts_with_no_clients_or_tokens(cases: dict[str, Case]) -> None:
    send(cases["apns"])
    send(cases["fcm"])
    assert transport.cached_client_count() == 2

    child = multiprocessing.get_context("fork").Process(target=_exit_with_inherited_state)
    child.start()
    child.join(10)

    assert child.exitcode == 0
    assert transport.cached_client_count() == 2
    assert len(tokens._ALL_CACHES) >= 2
