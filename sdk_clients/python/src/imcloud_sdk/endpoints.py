"""Where to connect: the LBS answer (cached for its ttl), then built-in endpoints, ranked by history.

The ranking follows Mars' rules: the last `rank_history` attempts per endpoint per network; an
endpoint with >= `ban_failures` failures among them whose last failure is recent is banned for
`ban_base` plus `ban_step` per further failure, up to `ban_max`; the rest are ranked by fewest
failures, then oldest last failure, then newest success, keeping the given order among equals.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from imcloud_sdk.clock import Clock
from imcloud_sdk.options import ClientOptions


@dataclass
class _History:
    results: deque[tuple[float, bool]]
    last_failure: float | None = None
    last_success: float | None = None


class EndpointRanker:
    def __init__(self, options: ClientOptions, clock: Clock) -> None:
        self._options = options
        self._clock = clock
        self._history: dict[tuple[str, str], _History] = {}
        self.network = "default"

    def record(self, url: str, ok: bool) -> None:
        now = self._clock.monotonic()
        history = self._history.setdefault(
            (self.network, url), _History(deque(maxlen=self._options.rank_history))
        )
        history.results.append((now, ok))
        if ok:
            history.last_success = now
        else:
            history.last_failure = now

    def _recent(self, url: str) -> tuple[int, float | None, float | None]:
        history = self._history.get((self.network, url))
        if history is None:
            return 0, None, None
        horizon = self._clock.monotonic() - self._options.rank_expiry
        failures = sum(1 for at, ok in history.results if not ok and at >= horizon)
        return failures, history.last_failure, history.last_success

    def banned_until(self, url: str) -> float | None:
        failures, last_failure, _ = self._recent(url)
        if failures < self._options.ban_failures or last_failure is None:
            return None
        ban = self._options.ban_base + self._options.ban_step * (failures - self._options.ban_failures)
        until = last_failure + min(ban, self._options.ban_max)
        return until if until > self._clock.monotonic() else None

    def is_banned(self, url: str) -> bool:
        return self.banned_until(url) is not None

    def rank(self, urls: list[str]) -> list[str]:
        """Candidates in the order to try them; banned ones only when every one is banned."""
        unique = list(dict.fromkeys(urls))
        usable = [url for url in unique if not self.is_banned(url)] or unique

        def key(item: tuple[int, str]) -> tuple[int, float, float, int]:
            index, url = item
            failures, last_failure, last_success = self._recent(url)
            return (
                failures,
                last_failure if last_failure is not None else float("-inf"),
                -(last_success if last_success is not None else float("-inf")),
                index,
            )

        return [url for _, url in sorted(enumerate(usable), key=key)]


@dataclass
class LbsAnswer:
    gateways: list[str]
    http: list[str]
    fetched_at: float
    ttl: float


@dataclass
class EndpointDirectory:
    """The LBS cache and built-in endpoints, merged into candidate lists."""

    options: ClientOptions
    clock: Clock
    cached: LbsAnswer | None = None
    # After a failed LBS query, reconnect rounds skip the LBS until then (a dead LBS would
    # otherwise cost every round up to lbs_timeout).
    lbs_retry_at: float = 0.0

    def lbs_due(self) -> bool:
        return not self.fresh() and self.clock.monotonic() >= self.lbs_retry_at

    def lbs_failed(self) -> None:
        self.lbs_retry_at = self.clock.monotonic() + self.options.lbs_retry_after

    def fresh(self) -> bool:
        return self.cached is not None and self.clock.monotonic() < self.cached.fetched_at + self.cached.ttl

    def store(self, gateways: list[str], http: list[str], ttl: float) -> None:
        self.cached = LbsAnswer(list(gateways), list(http), self.clock.monotonic(), ttl)

    def websocket_candidates(self) -> list[str]:
        found = list(self.cached.gateways) if self.cached else []
        return list(dict.fromkeys([*found, *self.options.endpoints]))

    def http_candidates(self) -> list[str]:
        found = list(self.cached.http) if self.cached else []
        return [url.rstrip("/") for url in dict.fromkeys([*found, *self.options.http_endpoints])]
