from __future__ import annotations

import asyncio

import pytest
from imcloud_sdk.racing import FatalAttempt, race


class Attempts:
    """Scripted attempts: url -> (seconds, outcome); records when each started and which were cancelled."""

    def __init__(self, script: dict[str, tuple[float, str]]) -> None:
        self.script = script
        self.started: list[str] = []
        self.cancelled: list[str] = []
        self.discarded: list[str] = []

    async def __call__(self, url: str) -> str:
        self.started.append(url)
        seconds, outcome = self.script[url]
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            self.cancelled.append(url)
            raise
        if outcome == "fail":
            raise ConnectionRefusedError(url)
        if outcome == "fatal":
            raise FatalAttempt()
        return url

    async def discard(self, winner: str) -> None:
        self.discarded.append(winner)


async def test_a_refused_candidate_starts_the_next_at_once():
    attempts = Attempts({"a": (0.0, "fail"), "b": (0.01, "ok"), "c": (0.01, "ok")})
    result = await race(["a", "b", "c"], attempts, interval=30, max_in_flight=3)
    assert (result.winner, result.url) == ("b", "b")
    assert attempts.started == ["a", "b"]
    assert [url for url, _ in result.failures] == ["a"]


async def test_a_silent_candidate_is_raced_after_the_interval_and_cancelled_when_another_wins():
    attempts = Attempts({"slow": (30.0, "ok"), "fast": (0.01, "ok")})
    result = await race(["slow", "fast"], attempts, interval=0.1, max_in_flight=3)
    assert result.winner == "fast"
    assert attempts.started == ["slow", "fast"]
    assert attempts.cancelled == ["slow"]


async def test_at_most_max_in_flight_attempts_run_at_once():
    attempts = Attempts({url: (30.0, "ok") for url in "abcde"})
    task = asyncio.ensure_future(race(list("abcde"), attempts, interval=0.05, max_in_flight=3))
    await asyncio.sleep(0.5)
    assert attempts.started == ["a", "b", "c"]
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert sorted(attempts.cancelled) == ["a", "b", "c"]


async def test_every_candidate_failing_returns_no_winner_and_all_failures():
    attempts = Attempts({"a": (0.0, "fail"), "b": (0.0, "fail")})
    results: list[tuple[str, bool]] = []
    result = await race(
        ["a", "b"],
        attempts,
        interval=1,
        max_in_flight=3,
        on_result=lambda url, e: results.append((url, e is None)),
    )
    assert result.winner is None
    assert [url for url, _ in result.failures] == ["a", "b"]
    assert results == [("a", False), ("b", False)]


async def test_a_fatal_attempt_stops_the_race():
    attempts = Attempts({"a": (0.2, "fatal"), "b": (5.0, "ok"), "c": (0.0, "ok")})
    result = await race(["a", "b", "c"], attempts, interval=0.05, max_in_flight=2)
    assert isinstance(result.fatal, FatalAttempt)
    assert result.winner is None
    assert attempts.started == ["a", "b"]
    assert attempts.cancelled == ["b"]


async def test_a_second_success_finishing_together_is_discarded():
    # Both are started in the same instant and finish in the same instant: one wins, and the other's
    # link must be closed (discarded), not leaked.
    attempts = Attempts({"a": (0.05, "ok"), "b": (0.05, "ok")})
    result = await race(["a", "b"], attempts, interval=0.0, max_in_flight=3, discard=attempts.discard)
    assert result.winner is not None
    loser = ({"a", "b"} - {result.winner}).pop()
    assert (attempts.discarded, attempts.cancelled) in (([loser], []), ([], [loser]))
