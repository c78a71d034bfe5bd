from __future__ import annotations

import random

from imcloud_sdk import ClientOptions
from imcloud_sdk.backoff import ReconnectBackoff
from imcloud_sdk.clock import ManualClock


def _backoff(**overrides: float) -> tuple[ReconnectBackoff, ManualClock]:
    clock = ManualClock()
    options = ClientOptions(app_key="k", endpoints=["ws://x/ws"], **overrides)  # type: ignore[arg-type]
    return ReconnectBackoff(options, clock, random.Random(7)), clock


def _outage(backoff: ReconnectBackoff, clock: ManualClock, rounds: int) -> list[float]:
    delays = []
    for _ in range(rounds):
        delay = backoff.next_delay()
        delays.append(delay)
        clock.advance(delay + 0.01)  # a refused connect costs next to nothing
    return delays


def test_first_retry_is_immediate_then_about_every_second_for_ten_seconds():
    backoff, clock = _backoff()
    delays = _outage(backoff, clock, 10)
    assert delays[0] == 0.0
    assert all(0.6 * 0.8 <= d <= 0.6 * 1.2 for d in delays[1:])
    # Back within a second of the network returning, with room left for the handshake and login.
    assert max(delays) <= 0.72
    assert clock.now - 1_000.0 < 10.0  # all of them inside the fast window


def test_after_the_fast_window_the_ladder_climbs_to_30_s_and_stays_there_forever():
    backoff, clock = _backoff(reconnect_jitter=0.0)
    delays = _outage(backoff, clock, 60)
    slow = [d for d in delays if d > 1.0]
    assert slow[:5] == [2.0, 4.0, 8.0, 16.0, 30.0]
    assert slow[5:] == [30.0] * len(slow[5:])
    assert len(slow) > 40  # no retry cap


def test_jitter_stays_within_twenty_percent():
    backoff, clock = _backoff()
    delays = _outage(backoff, clock, 200)
    slow = [d for d in delays if d > 1.0]
    assert all(30.0 * 0.8 <= d <= 30.0 * 1.2 for d in slow[10:])
    assert len({round(d, 3) for d in slow[10:]}) > 10  # spread, not one value


def test_in_the_background_the_ladder_goes_on_to_300_s():
    backoff, clock = _backoff(reconnect_jitter=0.0)
    backoff.background = True
    slow = [d for d in _outage(backoff, clock, 40) if d > 1.0]
    assert slow[:9] == [2.0, 4.0, 8.0, 16.0, 30.0, 60.0, 120.0, 240.0, 300.0]
    assert set(slow[9:]) == {300.0}


def test_a_login_resets_and_a_network_change_restarts_fast():
    backoff, clock = _backoff(reconnect_jitter=0.0)
    _outage(backoff, clock, 30)
    assert backoff.next_delay() == 30.0
    backoff.now_immediately()
    assert backoff.next_delay() == 0.0
    assert backoff.next_delay() == 0.6
    backoff.reset()
    assert backoff.outage_started is None
    assert backoff.next_delay() == 0.0
    assert backoff.outage_age() == 0.0
