"""Group commit for a gateway process: sends that arrive while a batch is being stored are stored
together in the next one. Each sender is answered as soon as its batch has committed; the batch's
deliveries are then planned and routed from the event loop, in commit order, so that the
routing of a large team's message never delays an ack."""

from __future__ import annotations

import asyncio
import logging

from channels.db import database_sync_to_async

from apps.gateway.publish import (
    Group,
    enqueue_offline_push,
    plan_messages,
    plan_needs_database,
    route_async,
    team_ids_of,
)
from apps.gateway.rosters import RosterCache
from apps.messaging.sending import Outcome, SendRequest, SendResult, message_send_many

logger = logging.getLogger(__name__)

MAX_BATCH = 200


class SendBatcher:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.pending: list[tuple[SendRequest, asyncio.Future[Outcome]]] = []
        self.writing = False
        # Committed messages waiting to be routed, in commit order.
        self.committed: asyncio.Queue[list[SendResult]] = asyncio.Queue()
        self.rosters = RosterCache()
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
                # Filled on the database thread by the after-commit hook: only what committed.
                created: list[SendResult] = []
                try:
                    outcomes = await database_sync_to_async(message_send_many)(
                        requests=[request for request, _ in batch], after_commit=created.extend
                    )
                except Exception as exc:
                    logger.exception("send batch failed", extra={"size": len(batch)})
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                # Acks first (the commit is what they prove), deliveries after.
                for (_, future), outcome in zip(batch, outcomes, strict=True):
                    if not future.done():
                        future.set_result(outcome)
                if created:
                    self.committed.put_nowait(created)
        finally:
            self.writing = False

    async def _route(self) -> None:
        while True:
            created = await self.committed.get()
            # Whatever else committed meanwhile goes along: one presence lookup, one layer
            # message per process, for all of it.
            while not self.committed.empty():
                created.extend(self.committed.get_nowait())
            try:
                await route_async(await self._plan(created))
            except Exception:
                logger.exception("routing a batch failed", extra={"messages": len(created)})
            try:
                await database_sync_to_async(enqueue_offline_push)(created)
            except Exception:
                logger.exception("offline push enqueue failed", extra={"messages": len(created)})

    async def _plan(self, created: list[SendResult]) -> list[Group]:
        rosters = await self.rosters.get_many(team_ids_of(created))
        if plan_needs_database(created):
            groups: list[Group] = await database_sync_to_async(plan_messages)(created, rosters)
            return groups
        return plan_messages(created, rosters)
