"""The reconnect ladder: fast retries while an outage is young, then 2, 4, 8, 16, 30 s, never giving up."""

from __future__ import annotations

import random

from imcloud_sdk.clock import Clock
from imcloud_sdk.options import ClientOptions


class ReconnectBackoff:
    """How long to wait before the next connect round.

    The first round after a drop goes at once (most drops are one bad link, not a dead network).
    During the first `reconnect_fast_window` seconds of an outage the client retries about every
    second, so a short outage costs the user at most a second once the network is back; after that
    the ladder spaces retries out to spare battery and the servers, staying at `reconnect_max`
    (or `reconnect_max_background` in the background) forever. Jitter spreads a crowd of clients
    that lost the same gateway.
    """

    def __init__(self, options: ClientOptions, clock: Clock, rng: random.Random | None = None) -> None:
        self._options = options
        self._clock = clock
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not security
        self.outage_started: float | None = None
        self._rounds = 0
        self._ladder_step = 0
        self.background = False

    def reset(self) -> None:
        """Connected: the next outage starts from the top of the ladder."""
        self.outage_started = None
        self._rounds = 0
        self._ladder_step = 0

    def now_immediately(self) -> None:
        """The network changed or the app came to the foreground: retry at once, fast again."""
        self.outage_started = self._clock.monotonic()
        self._rounds = 0
        self._ladder_step = 0

    def outage_age(self) -> float:
        if self.outage_started is None:
            return 0.0
        return self._clock.monotonic() - self.outage_started

    def next_delay(self) -> float:
        options = self._options
        if self.outage_started is None:
            self.outage_started = self._clock.monotonic()
        self._rounds += 1
        if self._rounds == 1:
            return 0.0
        if self.outage_age() < options.reconnect_fast_window:
            return self._jitter(options.reconnect_fast_interval)
        cap = options.reconnect_max_background if self.background else options.reconnect_max
        ladder = options.reconnect_ladder
        if self._ladder_step < len(ladder):
            base = ladder[self._ladder_step]
        else:
            # Past the ladder: keep doubling up to the cap (only the background cap is above it).
            base = ladder[-1] * 2 ** (self._ladder_step - len(ladder) + 1) if ladder else cap
        self._ladder_step += 1
        return self._jitter(min(base, cap))

    def _jitter(self, base: float) -> float:
        spread = self._options.reconnect_jitter
        return max(0.0, base * (1 + self._rng.uniform(-spread, spread)))
