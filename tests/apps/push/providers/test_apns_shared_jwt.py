"""The APNs provider JWT is shared by every worker process through Django's cache (Redis).

A "second process" is this process with its own copy forgotten (`_JWTS.clear()`), which is all a
new worker process starts without; the shared JWT stays in Redis. The local APNs double enforces
Apple's rule per key: a JWT different from the last accepted one, less than 20 minutes later, is
refused with 429 TooManyProviderTokenUpdates.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache

from apps.push.providers import (
    PROVIDERS,
    DeviceTarget,
    Notification,
    ProviderResult,
    clear_token_caches,
    config,
)
from apps.push.providers import apns as apns_module
from apps.push.providers.tokens import CachedToken
from apps.push.providers.transport import CLOCK
from tests.apps.push.providers.common import APNS_TOKEN
from tests.push_servers.apns import ApnsServer

apns = PROVIDERS["apns"]


def send(credentials: dict[str, Any]) -> ProviderResult:
    return apns.send(
        notification=Notification(title="Hi", body="Hello"),
        device=DeviceTarget("apns", APNS_TOKEN),
        credentials=credentials,
    )


def another_process() -> None:
    """Continue as a freshly started worker process: no JWT of its own."""
    apns_module._JWTS.clear()


def at_minute(server: ApnsServer, minutes: float) -> None:
    CLOCK.offset = server.clock_offset = minutes * 60


def shared_key(credentials: dict[str, Any]) -> str:
    return apns_module._shared_key(apns_module._stored_credentials(credentials))


@pytest.fixture
def signing_lock(apns_credentials: dict[str, Any]) -> Iterator[str]:
    """The key of this key's signing lock, released at the end of the test."""
    lock_key = f"{shared_key(apns_credentials)}:lock"
    yield lock_key
    cache.delete(lock_key)


def held_by_another_process(lock_key: str) -> None:
    assert cache.add(lock_key, "another-process", timeout=60)


def test_a_second_process_reuses_the_jwt_the_first_one_signed(
    apns_server: ApnsServer, apns_credentials: dict[str, Any]
) -> None:
    first = send(apns_credentials)
    another_process()
    second = send(apns_credentials)

    assert (first.outcome, second.outcome) == ("delivered", "delivered")
    assert len(apns_server.jwts_accepted) == 1
    assert apns_server.delivered[0].jwt == apns_server.delivered[1].jwt
    assert cache.get(shared_key(apns_credentials))["jwt"] == apns_server.jwts_accepted[0]

    clear_token_caches()  # credential rotation, tests: the shared copy goes too
    assert cache.get(shared_key(apns_credentials)) is None


def test_after_50_minutes_one_process_re_signs_and_the_others_take_its_jwt(
    apns_server: ApnsServer, apns_credentials: dict[str, Any]
) -> None:
    send(apns_credentials)
    another_process()
    send(apns_credentials)
    at_minute(apns_server, 51)

    results = [send(apns_credentials)]
    for _ in range(3):
        another_process()
        results.append(send(apns_credentials))

    assert [r.outcome for r in results] == ["delivered"] * 4
    old, new = apns_server.jwts_accepted
    assert [received.jwt for received in apns_server.delivered] == [old, old, new, new, new, new]
    iats = [received.jwt_claims["iat"] for received in apns_server.delivered]
    assert iats[2] - iats[0] >= 51 * 60 - 2


def test_a_process_looks_the_shared_jwt_up_again_within_a_minute(
    apns_server: ApnsServer, apns_credentials: dict[str, Any]
) -> None:
    send(apns_credentials)
    own = apns_module._JWTS.get(apns_module._stored_credentials(apns_credentials).cache_key)

    assert own is not None
    assert own.refresh_at - CLOCK.now() <= config.APNS_JWT_RECHECK_SECONDS


def test_a_jwt_called_expired_is_replaced_once_for_every_process(
    apns_server: ApnsServer, apns_credentials: dict[str, Any]
) -> None:
    send(apns_credentials)  # process A signs T1
    cache_key = apns_module._stored_credentials(apns_credentials).cache_key
    t1 = apns_module._JWTS.get(cache_key)
    assert t1 is not None
    at_minute(apns_server, 25)
    apns_server.set_error(APNS_TOKEN, 403, "ExpiredProviderToken", times=1)

    refused = send(apns_credentials)  # A: T1 refused; A signs T2 for everyone
    a_after = send(apns_credentials)
    # Process B still holds T1, looked up a moment ago.
    another_process()
    apns_module._JWTS.put(cache_key, CachedToken(t1.value, t1.issued_at, CLOCK.now() + 60))
    b_first = send(apns_credentials)
    b_after = send(apns_credentials)

    assert (refused.outcome, refused.detail) == ("failed", "ExpiredProviderToken")
    assert a_after.outcome == "delivered"
    # B's old JWT is refused as a token update (retried later), and B then takes T2: no third JWT.
    assert (b_first.outcome, b_first.status, b_first.detail) == ("retry", 429, "TooManyProviderTokenUpdates")
    assert b_after.outcome == "delivered"
    assert apns_server.jwts_accepted == [t1.value, apns_server.delivered[-1].jwt]
    assert apns_server.delivered[-2].jwt == apns_server.delivered[-1].jwt


def test_a_young_jwt_called_expired_is_not_replaced_by_any_process(
    apns_server: ApnsServer, apns_credentials: dict[str, Any]
) -> None:
    send(apns_credentials)
    at_minute(apns_server, 5)
    apns_server.set_error(APNS_TOKEN, 403, "ExpiredProviderToken", times=1)

    refused = send(apns_credentials)
    after = send(apns_credentials)
    another_process()
    other = send(apns_credentials)

    assert (refused.outcome, after.outcome, other.outcome) == ("failed", "delivered", "delivered")
    assert len(apns_server.jwts_accepted) == 1


def test_while_another_process_signs_the_previous_jwt_is_still_used(
    apns_server: ApnsServer, apns_credentials: dict[str, Any], signing_lock: str
) -> None:
    send(apns_credentials)
    at_minute(apns_server, 51)
    another_process()
    held_by_another_process(signing_lock)

    waiting = send(apns_credentials)  # due for a new JWT, but the other process is signing it
    cache.delete(signing_lock)  # it died without signing: the lock goes
    at_minute(apns_server, 51 + 2 / 60)
    signed = send(apns_credentials)

    assert (waiting.outcome, signed.outcome) == ("delivered", "delivered")
    old, new = apns_server.jwts_accepted
    assert [received.jwt for received in apns_server.delivered] == [old, old, new]


def test_with_no_jwt_yet_a_send_waits_for_the_signer_and_is_retried_if_it_never_comes(
    monkeypatch: pytest.MonkeyPatch,
    apns_server: ApnsServer,
    apns_credentials: dict[str, Any],
    signing_lock: str,
) -> None:
    held_by_another_process(signing_lock)
    monkeypatch.setattr(config, "TOTAL_TIMEOUT", 0.3)

    result = send(apns_credentials)

    assert (result.outcome, result.status) == ("retry", 0)
    assert result.detail.startswith("Timeout: waiting for another process")
    assert apns_server.requests == []


class _BrokenCache:
    def __getattr__(self, name: str) -> Any:
        def fail(*args: Any, **kwargs: Any) -> Any:
            raise ConnectionError("Redis is down")

        return fail


def test_without_the_shared_cache_each_process_signs_its_own_and_still_sends(
    monkeypatch: pytest.MonkeyPatch, apns_server: ApnsServer, apns_credentials: dict[str, Any]
) -> None:
    monkeypatch.setattr(apns_module, "cache", _BrokenCache())

    results = [send(apns_credentials), send(apns_credentials)]

    assert [r.outcome for r in results] == ["delivered", "delivered"]
    assert len(apns_server.jwts_accepted) == 1
