"""The client log: a ring buffer of structured entries an app can attach to a support request."""

from __future__ import annotations

import logging
from collections import deque
from typing import Any

from imcloud_sdk.clock import Clock

logger = logging.getLogger("imcloud_sdk")
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


class ClientLog:
    def __init__(self, capacity: int, clock: Clock) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=capacity)
        self._clock = clock

    def add(self, level: str, event: str, **fields: Any) -> None:
        entry: dict[str, Any] = {"ts": round(self._clock.time(), 3), "level": level, "event": event}
        entry.update({key: _plain(value) for key, value in fields.items()})
        self._entries.append(entry)
        logger.log(_LEVELS.get(level, logging.INFO), "%s %s", event, fields)

    def debug(self, event: str, **fields: Any) -> None:
        self.add("debug", event, **fields)

    def info(self, event: str, **fields: Any) -> None:
        self.add("info", event, **fields)

    def warning(self, event: str, **fields: Any) -> None:
        self.add("warning", event, **fields)

    def error(self, event: str, **fields: Any) -> None:
        self.add("error", event, **fields)

    def dump(self) -> list[dict[str, Any]]:
        return [dict(entry) for entry in self._entries]


def _plain(value: Any) -> Any:
    """JSON-serialisable, so dump_log() can go straight into a support ticket."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    return str(value)
