"""Events to the app, handed over in order by one dispatcher task so a slow handler never stalls the link."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from enum import StrEnum
from typing import Any

from imcloud_sdk.log import ClientLog

EVENTS = ("state", "message", "receipt", "recall", "typing", "team", "error")


class ConnectionState(StrEnum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    KICKED = "kicked"  # by another device or the app server: no reconnect
    AUTH_FAILED = "auth_failed"  # the credentials or the app key were refused: no reconnect


Handler = Callable[..., Any]


class EventBus:
    def __init__(self, log: ClientLog) -> None:
        self._handlers: dict[str, list[Handler]] = {name: [] for name in EVENTS}
        self._queue: asyncio.Queue[tuple[str, tuple[Any, ...]]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._log = log

    def on(self, event: str, handler: Handler) -> Callable[[], None]:
        if event not in self._handlers:
            raise ValueError(f"unknown event {event!r}; events are {', '.join(EVENTS)}")
        self._handlers[event].append(handler)

        def off() -> None:
            if handler in self._handlers[event]:
                self._handlers[event].remove(handler)

        return off

    def emit(self, event: str, *args: Any) -> None:
        self._queue.put_nowait((event, args))
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._dispatch())

    async def _dispatch(self) -> None:
        while not self._queue.empty():
            event, args = self._queue.get_nowait()
            for handler in list(self._handlers[event]):
                try:
                    result = handler(*args)
                    if inspect.isawaitable(result):
                        await result
                except Exception as exc:
                    self._log.error("handler_failed", handler_event=event, error=repr(exc))

    async def drain(self) -> None:
        """Wait until every emitted event has been handed over (at once when called from a handler,
        which would otherwise wait for itself)."""
        while self._task is not None and not self._task.done() and self._task is not asyncio.current_task():
            await asyncio.shield(self._task)
