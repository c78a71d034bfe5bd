"""Racing connect: try the best candidate, start the next one every `race_interval` (or at once when
one fails) with at most `max_in_flight` at a time; the first to succeed wins and the rest are
cancelled. Generic over what an attempt is, so it can be tested without sockets."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


class FatalAttempt(Exception):
    """An attempt failed in a way no other candidate can fix (bad credentials): stop the race."""


@dataclass
class RaceResult(Generic[T]):
    winner: T | None = None
    url: str | None = None
    failures: list[tuple[str, BaseException]] = field(default_factory=list)
    fatal: BaseException | None = None


async def race(
    candidates: list[str],
    attempt: Callable[[str], Awaitable[T]],
    *,
    interval: float,
    max_in_flight: int,
    on_result: Callable[[str, BaseException | None], None] | None = None,
    discard: Callable[[T], Awaitable[None]] | None = None,
) -> RaceResult[T]:
    result: RaceResult[T] = RaceResult()
    queue = list(candidates)
    running: dict[asyncio.Task[T], str] = {}

    def start_next() -> None:
        if queue and len(running) < max_in_flight:
            url = queue.pop(0)
            running[asyncio.ensure_future(attempt(url))] = url

    start_next()
    try:
        while running:
            done, _ = await asyncio.wait(running, timeout=interval, return_when=asyncio.FIRST_COMPLETED)
            if not done:
                start_next()
                continue
            for task in done:
                url = running.pop(task)
                error = task.exception()
                if on_result is not None:
                    on_result(url, error)
                if error is None:
                    if result.winner is None:
                        result.winner, result.url = task.result(), url
                    elif discard is not None:
                        await discard(task.result())
                elif isinstance(error, FatalAttempt):
                    result.fatal = error
                else:
                    result.failures.append((url, error))
            if result.winner is not None or result.fatal is not None:
                return result
            start_next()
        return result
    finally:
        if running:
            for task in running:
                task.cancel()
            outcomes = await asyncio.gather(*running, return_exceptions=True)
            if discard is not None:
                for value in outcomes:
                    if not isinstance(value, BaseException):
                        await discard(value)
