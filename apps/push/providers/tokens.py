"""Per-process caches of auth tokens (APNs provider JWTs, FCM and Huawei OAuth access tokens).

Each cache maps a key (whose credentials) to one token. A token is fetched/signed by one thread
at a time per key (a per-key lock), so a burst of sends after a restart or an expiry makes one
OAuth request, not one per thread.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from apps.push.providers import config, transport
from apps.push.providers.base import FAILED, RETRY, ProviderResult
from apps.push.providers.transport import CLOCK, Deadline


@dataclass(frozen=True)
class CachedToken:
    value: str
    issued_at: float  # unix time (transport.CLOCK)
    refresh_at: float  # unix time after which a new token is fetched/signed


class TokenCache:
    def __init__(self) -> None:
        self._reset()
        _ALL_CACHES.add(self)

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[Hashable, CachedToken] = {}
        self._key_locks: dict[Hashable, threading.Lock] = {}

    def get(self, key: Hashable) -> CachedToken | None:
        with self._lock:
            return self._tokens.get(key)

    def put(self, key: Hashable, token: CachedToken) -> None:
        with self._lock:
            self._tokens[key] = token

    def discard(self, key: Hashable, value: str) -> bool:
        """Forget the token for ``key`` if it is still ``value`` (another thread may have replaced it)."""
        with self._lock:
            current = self._tokens.get(key)
            if current is not None and current.value == value:
                del self._tokens[key]
                return True
            return False

    def key_lock(self, key: Hashable) -> threading.Lock:
        with self._lock:
            return self._key_locks.setdefault(key, threading.Lock())

    def clear(self) -> None:
        """Forget this process's tokens."""
        with self._lock:
            self._tokens.clear()

    def clear_shared(self) -> None:
        """Forget the tokens this cache shares with other processes (none here; see apns.SharedJwts)."""

    def __len__(self) -> int:
        with self._lock:
            return len(self._tokens)


_ALL_CACHES: weakref.WeakSet[TokenCache] = weakref.WeakSet()


def clear_all() -> None:
    """Forget every cached token of this process, and those it shared (tests; credential rotation)."""
    for cache in list(_ALL_CACHES):
        cache.clear()
        cache.clear_shared()


def _reset_after_fork() -> None:
    for cache in list(_ALL_CACHES):
        cache._reset()


os.register_at_fork(after_in_child=_reset_after_fork)


def oauth_refresh_at(issued_at: float, expires_in: float) -> float:
    """When to replace an access token valid for ``expires_in`` seconds from ``issued_at``."""
    return issued_at + expires_in - min(config.OAUTH_REFRESH_MARGIN, expires_in / 2)


def cached_or_fetch(
    cache: TokenCache,
    key: Hashable,
    fetch: Callable[[], CachedToken | ProviderResult],
    *,
    deadline: Deadline,
) -> str | ProviderResult:
    """The cached token for ``key`` while fresh; otherwise one thread fetches and caches a new one.

    ``fetch`` returns the new token or the ProviderResult explaining why there is none.
    """
    token = cache.get(key)
    if token is not None and CLOCK.now() < token.refresh_at:
        return token.value
    lock = cache.key_lock(key)
    if not lock.acquire(timeout=max(deadline.remaining(), 0.0)):
        return ProviderResult(RETRY, 0, "Timeout: waiting for another thread's token request")
    try:
        token = cache.get(key)
        if token is not None and CLOCK.now() < token.refresh_at:
            return token.value
        fetched = fetch()
        if isinstance(fetched, ProviderResult):
            return fetched
        cache.put(key, fetched)
        return fetched.value
    finally:
        lock.release()


def fetch_oauth_token(url: str, form: dict[str, str], *, deadline: Deadline) -> CachedToken | ProviderResult:
    """POST an OAuth 2.0 token request (form-encoded) and read ``access_token`` / ``expires_in``.

    A refused request (4xx: bad client, invalid_grant) is FAILED; 429/5xx/network trouble is RETRY.
    """
    issued_at = CLOCK.now()
    response = transport.post(
        transport.client_for(url),
        url,
        deadline=deadline,
        headers={"accept": "application/json"},
        form=form,
    )
    if isinstance(response, ProviderResult):
        return response
    body = transport.json_object(response)
    if response.status_code == 429 or response.status_code >= 500:
        return transport.result(RETRY, response, f"OAuth: HTTP {response.status_code}")
    access_token = body.get("access_token")
    expires_in = body.get("expires_in", 3600)
    if response.status_code != 200 or not isinstance(access_token, str) or not access_token:
        error = body.get("error", "")
        description = body.get("error_description", "")
        reason = (
            ": ".join(str(part) for part in (error, description) if part) or f"HTTP {response.status_code}"
        )
        return transport.result(FAILED, response, f"OAuth: {reason}")
    if not isinstance(expires_in, int | float) or isinstance(expires_in, bool) or expires_in <= 0:
        expires_in = 3600
    return CachedToken(access_token, issued_at, oauth_refresh_at(issued_at, float(expires_in)))
