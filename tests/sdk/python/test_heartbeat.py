from __future__ import annotations

from imcloud_sdk import ClientOptions
from imcloud_sdk.clock import ManualClock
from imcloud_sdk.heartbeat import Phase, SmartHeartbeat

DAY = 86_400.0


def _heartbeat(**overrides: float) -> tuple[SmartHeartbeat, ManualClock]:
    clock = ManualClock()
    options = ClientOptions(app_key="k", endpoints=["ws://x/ws"], **overrides)  # type: ignore[arg-type]
    return SmartHeartbeat(options, clock), clock


def _succeed(heartbeat: SmartHeartbeat, times: int) -> None:
    for _ in range(times):
        heartbeat.on_success()


def test_starts_at_the_minimum_and_probes_after_three_successes():
    heartbeat, _ = _heartbeat()
    assert (heartbeat.interval(), heartbeat.phase) == (45.0, Phase.WARMING)
    _succeed(heartbeat, 2)
    assert heartbeat.phase is Phase.WARMING
    _succeed(heartbeat, 1)
    assert (heartbeat.interval(), heartbeat.phase) == (45.0, Phase.PROBING)


def test_probing_adds_a_step_after_every_five_successes_up_to_the_maximum():
    heartbeat, _ = _heartbeat()
    _succeed(heartbeat, 3)
    intervals = []
    for _ in range(10):
        _succeed(heartbeat, 4)
        intervals.append(heartbeat.interval())
        _succeed(heartbeat, 1)
        intervals.append(heartbeat.interval())
    assert intervals[:6] == [45.0, 105.0, 105.0, 165.0, 165.0, 225.0]
    assert max(intervals) == 570.0
    _succeed(heartbeat, 5)
    assert (heartbeat.interval(), heartbeat.phase) == (570.0, Phase.SETTLED)


def test_two_failures_while_probing_settle_on_the_last_interval_that_worked():
    heartbeat, _ = _heartbeat()
    _succeed(heartbeat, 3 + 5 + 5)  # 45 -> 105 -> 165
    assert heartbeat.interval() == 165.0
    heartbeat.on_failure()
    assert heartbeat.phase is Phase.PROBING  # one failure may be bad luck
    heartbeat.on_failure()
    assert (heartbeat.interval(), heartbeat.phase) == (105.0, Phase.SETTLED)


def test_a_success_between_failures_resets_the_count():
    heartbeat, _ = _heartbeat()
    _succeed(heartbeat, 3 + 5)
    heartbeat.on_failure()
    heartbeat.on_success()
    heartbeat.on_failure()
    assert heartbeat.phase is Phase.PROBING


def test_two_failures_when_settled_go_back_to_the_minimum_and_probe_again():
    heartbeat, _ = _heartbeat()
    _succeed(heartbeat, 3 + 5)
    heartbeat.on_failure()
    heartbeat.on_failure()
    assert (heartbeat.interval(), heartbeat.phase) == (45.0, Phase.SETTLED)
    _succeed(heartbeat, 1)
    heartbeat.on_failure()
    heartbeat.on_failure()
    assert (heartbeat.interval(), heartbeat.phase) == (45.0, Phase.WARMING)
    _succeed(heartbeat, 3 + 5)
    assert heartbeat.interval() == 105.0


def test_a_settled_interval_is_probed_again_after_seven_days():
    heartbeat, clock = _heartbeat()
    _succeed(heartbeat, 3 + 5 + 5)
    heartbeat.on_failure()
    heartbeat.on_failure()
    assert (heartbeat.interval(), heartbeat.phase) == (105.0, Phase.SETTLED)
    clock.advance(7 * DAY - 1)
    assert heartbeat.phase is Phase.SETTLED
    _succeed(heartbeat, 20)
    assert heartbeat.interval() == 105.0
    clock.advance(1)
    assert heartbeat.interval() == 105.0
    assert heartbeat.phase is Phase.PROBING
    _succeed(heartbeat, 5)
    assert heartbeat.interval() == 165.0


def test_the_interval_is_learned_per_network_and_twenty_are_kept():
    heartbeat, _ = _heartbeat()
    _succeed(heartbeat, 3 + 5)
    assert heartbeat.interval() == 105.0
    heartbeat.set_network("cellular")
    assert heartbeat.interval() == 45.0
    heartbeat.set_network("default")
    assert heartbeat.interval() == 105.0
    for n in range(20):
        heartbeat.set_network(f"wifi-{n}")
    assert len(heartbeat.networks()) == 20
    assert "default" not in heartbeat.networks()  # the least recently used one went
    heartbeat.set_network("default")
    assert heartbeat.interval() == 45.0
