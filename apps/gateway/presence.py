"""Which gateway process holds which user's sessions.

Redis, when configured: one hash per user, ``<namespace>:presence:<user_id>``, field = session id,
value = "<process channel>|<device class>|<device id>|<expires at, unix s>". A gateway process
refreshes all of its sessions in one pipeline every PRESENCE_REFRESH seconds, so an entry outlives
its process by at most PRESENCE_TTL; readers ignore expired entries. Without Redis (the embedded
quick start, one process) the same table lives in this process's memory.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

import redis
import redis.asyncio as aioredis
from django.conf import settings

PRESENCE_TTL = 90
PRESENCE_REFRESH = 30


@dataclass(frozen=True)
class SessionEntry:
    session_id: str
    user_id: int
    process: str
    device_class: str
    device_id: str
    expires_at: float

    def encode(self) -> str:
        return f"{self.process}|{self.device_class}|{self.device_id}|{self.expires_at:.0f}"

    @classmethod
    def decode(cls, user_id: int, session_id: str, raw: str) -> SessionEntry | None:
        parts = raw.split("|", 3)
        if len(parts) != 4:
            return None
        process, device_class, device_id, expires = parts
        return cls(session_id, user_id, process, device_class, device_id, float(expires))


class PresenceStore(Protocol):
    def put(self, entries: Iterable[SessionEntry]) -> None: ...
    def drop(self, user_id: int, session_id: str) -> None: ...
    def lookup(self, user_ids: Iterable[int]) -> dict[int, list[SessionEntry]]: ...
    async def alookup(self, user_ids: Iterable[int]) -> dict[int, list[SessionEntry]]: ...


def _live(user_ids: list[int], tables: list[dict[str, str]]) -> dict[int, list[SessionEntry]]:
    now = time.time()
    found: dict[int, list[SessionEntry]] = {}
    for user_id, fields in zip(user_ids, tables, strict=True):
        live = [
            entry
            for session_id, raw in fields.items()
            if (entry := SessionEntry.decode(user_id, session_id, raw)) and entry.expires_at > now
        ]
        if live:
            found[user_id] = live
    return found


class RedisPresence:
    def __init__(self, url: str, namespace: str) -> None:
        self.url = url
        self.client = redis.Redis.from_url(url, decode_responses=True, socket_timeout=5)
        self.prefix = f"{namespace}:presence:"
        # asyncio clients belong to one event loop each.
        self._async: dict[asyncio.AbstractEventLoop, aioredis.Redis] = {}

    def put(self, entries: Iterable[SessionEntry]) -> None:
        pipe = self.client.pipeline(transaction=False)
        for entry in entries:
            key = f"{self.prefix}{entry.user_id}"
            pipe.hset(key, entry.session_id, entry.encode())
            pipe.expire(key, PRESENCE_TTL)
        pipe.execute()

    def drop(self, user_id: int, session_id: str) -> None:
        self.client.hdel(f"{self.prefix}{user_id}", session_id)

    def lookup(self, user_ids: Iterable[int]) -> dict[int, list[SessionEntry]]:
        ids = list(dict.fromkeys(user_ids))
        if not ids:
            return {}
        pipe = self.client.pipeline(transaction=False)
        for user_id in ids:
            pipe.hgetall(f"{self.prefix}{user_id}")
        return _live(ids, pipe.execute())

    async def alookup(self, user_ids: Iterable[int]) -> dict[int, list[SessionEntry]]:
        ids = list(dict.fromkeys(user_ids))
        if not ids:
            return {}
        loop = asyncio.get_running_loop()
        client = self._async.get(loop)
        if client is None:
            for stale in [lp for lp in self._async if lp.is_closed()]:
                del self._async[stale]
            client = self._async[loop] = aioredis.Redis.from_url(
                self.url, decode_responses=True, socket_timeout=5
            )
        pipe = client.pipeline(transaction=False)
        for user_id in ids:
            pipe.hgetall(f"{self.prefix}{user_id}")
        return _live(ids, await pipe.execute())


class MemoryPresence:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._table: dict[int, dict[str, SessionEntry]] = defaultdict(dict)

    def put(self, entries: Iterable[SessionEntry]) -> None:
        with self._lock:
            for entry in entries:
                self._table[entry.user_id][entry.session_id] = entry

    def drop(self, user_id: int, session_id: str) -> None:
        with self._lock:
            self._table.get(user_id, {}).pop(session_id, None)

    def lookup(self, user_ids: Iterable[int]) -> dict[int, list[SessionEntry]]:
        now = time.time()
        with self._lock:
            found = {
                user_id: [e for e in self._table.get(user_id, {}).values() if e.expires_at > now]
                for user_id in user_ids
            }
        return {user_id: entries for user_id, entries in found.items() if entries}

    async def alookup(self, user_ids: Iterable[int]) -> dict[int, list[SessionEntry]]:
        return self.lookup(user_ids)


@lru_cache(maxsize=4)
def _store_for(redis_url: str, namespace: str) -> PresenceStore:
    return RedisPresence(redis_url, namespace) if redis_url else MemoryPresence()


def presence_store() -> PresenceStore:
    return _store_for(settings.REDIS_URL, settings.REDIS_NAMESPACE)


def expiry() -> float:
    return time.time() + PRESENCE_TTL
