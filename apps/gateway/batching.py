"""Group commit for a gateway process: sends that arrive while a batch is being stored are stored
together in the next one, and their deliveries are routed from the event loop in commit order."""

from __future__ import annotations

import asyncio
import logging

from channels.db import database_sync_to_async

from apps.gateway.publish import Group, enqueue_offline_push, plan_messages, route_async
from apps.messaging.sending import Outcome, SendRequest, SendResult, message_send_many

logger = logging.getLogger(__name__)

MAX_BATCH = 200


class SendBatcher:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.pending: list[tuple[SendRequest, asyncio.Future[Outcome]]] = []
        self.writing = False
        self.deliveries: asyncio.Queue[list[Group]] = asyncio.Queue()
        self._router = loop.create_task(self._route())

    async def submit(self, request: SendRequest) -> Outcome:
        future: asyncio.Future[Outcome] = self.loop.create_future()
        self.pending.append((request, future))
        if not self.writing:
            self.writing = True
            self.loop.create_task(self._write())
        return await future

    async def _write(self) -> None:
        try:
            while self.pending:
                batch, self.pending = self.pending[:MAX_BATCH], self.pending[MAX_BATCH:]
                try:
                    outcomes = await database_sync_to_async(message_send_many)(
                        requests=[request for request, _ in batch], after_commit=self._after_commit
                    )
                except Exception as exc:
                    logger.exception("send batch failed", extra={"size": len(batch)})
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for (_, future), outcome in zip(batch, outcomes, strict=True):
                    if not future.done():
                        future.set_result(outcome)
        finally:
            self.writing = False

    def _after_commit(self, created: list[SendResult]) -> None:
        # On the database thread, right after commit: plan there (team rosters need a query),
        # route from the event loop.
        if created:
            groups = plan_messages(created)
            self.loop.call_soon_threadsafe(self.deliveries.put_nowait, groups)
            enqueue_offline_push(created)

    async def _route(self) -> None:
        while True:
            groups = await self.deliveries.get()
            try:
                await route_async(groups)
            except Exception:
                logger.exception("routing a batch failed", extra={"groups": len(groups)})
