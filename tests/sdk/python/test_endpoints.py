from __future__ import annotations

from imcloud_sdk import ClientOptions
from imcloud_sdk.clock import ManualClock
from imcloud_sdk.endpoints import EndpointDirectory, EndpointRanker

A, B, C = "ws://a/ws", "ws://b/ws", "ws://c/ws"


def _ranker() -> tuple[EndpointRanker, ManualClock]:
    clock = ManualClock()
    return EndpointRanker(ClientOptions(app_key="k", endpoints=[A]), clock), clock


def test_without_history_the_given_order_is_kept():
    ranker, _ = _ranker()
    assert ranker.rank([A, B, C, A]) == [A, B, C]


def test_fewest_recent_failures_first_then_oldest_failure_then_newest_success():
    ranker, clock = _ranker()
    ranker.record(A, False)
    clock.advance(1)
    ranker.record(B, False)
    assert ranker.rank([A, B, C]) == [C, A, B]  # C never failed; A failed longer ago than B
    clock.advance(1)
    ranker.record(A, True)
    ranker.record(C, True)
    clock.advance(1)
    ranker.record(C, False)
    ranker.record(B, True)
    clock.advance(1)
    ranker.record(B, True)
    # A: 1 failure at t0; B: 1 failure at t1; C: 1 failure at t3 -> A, B, C
    assert ranker.rank([C, B, A]) == [A, B, C]


def test_three_failures_of_eight_ban_for_six_minutes_plus_six_per_further_failure():
    ranker, clock = _ranker()
    for _ in range(3):
        ranker.record(A, False)
    assert ranker.is_banned(A)
    assert ranker.rank([A, B]) == [B]
    clock.advance(359)
    assert ranker.is_banned(A)
    clock.advance(2)
    assert not ranker.is_banned(A)
    ranker.record(A, False)  # 4 failures: 12 minutes from this one
    clock.advance(11 * 60)
    assert ranker.is_banned(A)
    clock.advance(61)
    assert not ranker.is_banned(A)


def test_the_ban_is_capped_at_thirty_minutes_and_only_the_last_eight_count():
    ranker, clock = _ranker()
    for _ in range(8):
        ranker.record(A, False)
    assert ranker.banned_until(A) == clock.now + 1800
    for _ in range(6):
        ranker.record(A, True)  # the window holds the last 8: now 2 failures, 6 successes
    assert not ranker.is_banned(A)


def test_when_every_endpoint_is_banned_they_are_all_tried_anyway():
    ranker, _ = _ranker()
    for url in (A, B):
        for _ in range(3):
            ranker.record(url, False)
    assert ranker.rank([A, B]) == [A, B]


def test_history_is_kept_per_network():
    ranker, _ = _ranker()
    for _ in range(3):
        ranker.record(A, False)
    ranker.network = "wifi-home"
    assert not ranker.is_banned(A)
    assert ranker.rank([A, B]) == [A, B]
    ranker.network = "default"
    assert ranker.is_banned(A)


def test_the_directory_caches_the_lbs_answer_for_its_ttl_then_adds_the_built_in_endpoints():
    clock = ManualClock()
    options = ClientOptions(app_key="k", endpoints=[C, A], http_endpoints=["http://c/"])
    directory = EndpointDirectory(options, clock)
    assert not directory.fresh()
    assert directory.websocket_candidates() == [C, A]
    directory.store([A, B], ["http://a"], ttl=300)
    assert directory.fresh()
    assert directory.websocket_candidates() == [A, B, C]
    assert directory.http_candidates() == ["http://a", "http://c"]
    clock.advance(301)
    assert not directory.fresh()
    assert directory.websocket_candidates() == [A, B, C]  # stale, but still used when the LBS fails


def test_a_failed_lbs_is_left_alone_for_a_while_and_a_fresh_answer_until_its_ttl():
    clock = ManualClock()
    directory = EndpointDirectory(ClientOptions(app_key="k", lbs_url="http://lbs/"), clock)
    assert directory.lbs_due()
    directory.lbs_failed()
    clock.advance(29)
    assert not directory.lbs_due()
    clock.advance(1)
    assert directory.lbs_due()
    directory.store([A], [], ttl=300)
    clock.advance(299)
    assert not directory.lbs_due()
    clock.advance(1)
    assert directory.lbs_due()
