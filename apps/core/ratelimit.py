"""Fixed one-second windows counted in the cache (Redis in production), shared by every process."""

from __future__ import annotations

from django.core.cache import cache


def count_in_second(key: str, *, second: int, amount: int = 1) -> int:
    """Add ``amount`` to the window of ``key`` for this ``second`` and return the window's total."""
    window = f"{key}:{second}"
    cache.add(window, 0, timeout=5)
    try:
        return int(cache.incr(window, amount))
    except ValueError:  # the window expired between add and incr
        cache.add(window, amount, timeout=5)
        return amount
