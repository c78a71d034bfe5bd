"""Group commit for a gateway process: sends that arrive while a batch is being stored are stored
together in the next one. Each sender is answered as soon as its batch has committed; the batch's
deliveries are then planned and routed from the event loop, in commit order, so that the
routing of a large team's message never delays an ack."""

from __future__ import annotations

import asyncio
import logging

from asgiref.sync import sync_to_async
from django.db import InterfaceError, OperationalError

from apps.core.conf import setting_int
from apps.gateway.db import db
from apps.gateway.publish import (
    Group,
    plan_messages,
    plan_needs_database,
    route_async,
    team_ids_of,
)
from apps.gateway.rosters import RosterCache
from apps.messaging.sending import Outcome, SendRequest, SendResult, message_send_many
from apps.push.delivery import push_apps_load, push_enqueue_ids, push_pending

logger = logging.getLogger(__name__)

MAX_BATCH = 200


class SendBatcher:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.pending: list[tuple[SendRequest, asyncio.Future[Outcome]]] = []
        self.writing = False
        self.interval = setting_int("GATEWAY_BATCH_INTERVAL_MS") / 1000
        self._last_start = 0.0
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
                # While busy, wait out the interval since the previous batch began: the sends that
                # arrive meanwhile share its transaction (PostgreSQL's cost is per commit).
                gap = self.interval - (self.loop.time() - self._last_start)
                if gap > 0 and len(self.pending) < MAX_BATCH:
                    await asyncio.sleep(gap)
                self._last_start = self.loop.time()
                batch, self.pending = self.pending[:MAX_BATCH], self.pending[MAX_BATCH:]
                # Filled on the database thread by the after-commit hook: only what committed.
                created: list[SendResult] = []
                try:
                    outcomes = await self._store([request for request, _ in batch], created)
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

    async def _store(self, requests: list[SendRequest], created: list[SendResult]) -> list[Outcome]:
        try:
            return await db(message_send_many)(requests=requests, after_commit=created.extend)
        except (OperationalError, InterfaceError):
            # Most likely a connection PostgreSQL dropped (a restart): the gateway does not check
            # its connection before each batch, so it tries once more on a new one. Sends are
            # idempotent, so a batch that did commit is answered with its originals.
            logger.warning("send batch failed on the database connection; trying once more", exc_info=True)
            created.clear()
            return await db(message_send_many)(requests=requests, after_commit=created.extend)

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
                await self._push(created)
            except Exception:
                logger.exception("offline push enqueue failed", extra={"messages": len(created)})

    async def _push(self, created: list[SendResult]) -> None:
        # Which apps have push credentials is cached per process, so a batch usually costs no
        # database hop here; the Celery hand-off (a Redis write) runs off the database thread.
        ids, unknown = push_pending(results=created)
        if unknown:
            await db(push_apps_load)(app_ids=unknown)
            ids, _ = push_pending(results=created)
        if ids:
            await sync_to_async(push_enqueue_ids, thread_sensitive=False)(message_ids=ids)

    async def _plan(self, created: list[SendResult]) -> list[Group]:
        rosters = await self.rosters.get_many(team_ids_of(created))
        if plan_needs_database(created):
            groups: list[Group] = await db(plan_messages)(created, rosters)
            return groups
        return plan_messages(created, rosters)
