"""Smart heartbeat: learn, per network, the longest ping interval the path's NATs tolerate.

Long intervals save battery and radio wake-ups, but a NAT that forgets an idle mapping silently kills
the link. So the interval starts at `heartbeat_min`, and after `heartbeat_probe_after` successes it
probes upward by `heartbeat_step` after every `heartbeat_successes_per_step` consecutive successes,
up to `heartbeat_max`. `heartbeat_failures_to_settle` consecutive failures while probing settle on
the last interval that worked; the same number of failures once settled start over from the
minimum. A settled value is probed again after `heartbeat_reprobe_after` (networks change).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from imcloud_sdk.clock import Clock
from imcloud_sdk.options import ClientOptions


class Phase(StrEnum):
    WARMING = "warming"  # at the minimum, counting successes before probing
    PROBING = "probing"
    SETTLED = "settled"


@dataclass
class NetworkHeartbeat:
    interval: float
    phase: Phase = Phase.WARMING
    last_good: float = 0.0
    successes: int = 0  # consecutive, at the current interval
    failures: int = 0  # consecutive
    settled_at: float = 0.0


class SmartHeartbeat:
    def __init__(self, options: ClientOptions, clock: Clock) -> None:
        self._options = options
        self._clock = clock
        self._networks: OrderedDict[str, NetworkHeartbeat] = OrderedDict()
        self.network = "default"
        self._state()

    def _state(self) -> NetworkHeartbeat:
        state = self._networks.get(self.network)
        if state is None:
            state = NetworkHeartbeat(
                interval=self._options.heartbeat_min, last_good=self._options.heartbeat_min
            )
            self._networks[self.network] = state
            while len(self._networks) > self._options.heartbeat_networks:
                self._networks.popitem(last=False)
        self._networks.move_to_end(self.network)
        return state

    def set_network(self, key: str) -> None:
        self.network = key
        self._state()

    @property
    def phase(self) -> Phase:
        return self._state().phase

    def networks(self) -> list[str]:
        return list(self._networks)

    def interval(self) -> float:
        state = self._state()
        if (
            state.phase is Phase.SETTLED
            and state.interval < self._options.heartbeat_max
            and self._clock.monotonic() - state.settled_at >= self._options.heartbeat_reprobe_after
        ):
            state.phase, state.successes, state.failures = Phase.PROBING, 0, 0
        return state.interval

    def on_success(self) -> None:
        options, state = self._options, self._state()
        state.failures = 0
        state.successes += 1
        state.last_good = state.interval
        if state.phase is Phase.WARMING:
            if state.successes >= options.heartbeat_probe_after:
                state.phase, state.successes = Phase.PROBING, 0
        elif state.phase is Phase.PROBING and state.successes >= options.heartbeat_successes_per_step:
            state.successes = 0
            if state.interval >= options.heartbeat_max:
                self._settle(state, options.heartbeat_max)
            else:
                state.interval = min(state.interval + options.heartbeat_step, options.heartbeat_max)

    def on_failure(self) -> None:
        options, state = self._options, self._state()
        state.successes = 0
        state.failures += 1
        if state.failures < options.heartbeat_failures_to_settle:
            return
        state.failures = 0
        if state.phase is Phase.PROBING:
            self._settle(state, min(state.last_good, state.interval))
        elif state.phase is Phase.SETTLED:
            state.phase, state.interval, state.last_good = (
                Phase.WARMING,
                options.heartbeat_min,
                options.heartbeat_min,
            )

    def export(self) -> dict[str, Any]:
        """What was learned, per network, least recently used first (for a StateStore). The settle
        time is wall-clock time, since the monotonic clock restarts with the process."""
        offset = self._clock.time() - self._clock.monotonic()
        return {
            "networks": [
                {
                    "network": key,
                    "interval": state.interval,
                    "phase": state.phase.value,
                    "last_good": state.last_good,
                    "settled_at": round(state.settled_at + offset, 3) if state.settled_at else 0,
                }
                for key, state in self._networks.items()
            ]
        }

    def restore(self, document: dict[str, Any]) -> None:
        """Take back what export() gave (a previous run's learning); bad entries are skipped."""
        options, offset = self._options, self._clock.time() - self._clock.monotonic()
        for entry in document.get("networks", []):
            try:
                interval = min(max(float(entry["interval"]), options.heartbeat_min), options.heartbeat_max)
                last_good = min(max(float(entry["last_good"]), options.heartbeat_min), interval)
                phase = Phase(entry["phase"])
                settled = float(entry.get("settled_at", 0))
                key = str(entry["network"])
            except (KeyError, TypeError, ValueError):
                continue
            self._networks[key] = NetworkHeartbeat(
                interval=interval,
                phase=phase,
                last_good=last_good,
                settled_at=settled - offset if settled else 0.0,
            )
            self._networks.move_to_end(key)
        while len(self._networks) > options.heartbeat_networks:
            self._networks.popitem(last=False)
        self._state()

    def _settle(self, state: NetworkHeartbeat, interval: float) -> None:
        state.phase, state.interval, state.last_good = Phase.SETTLED, interval, interval
        state.settled_at = self._clock.monotonic()
