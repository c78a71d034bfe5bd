"""Which gateway process holds which user's sessions.

Redis, when configured: one hash per user, ``<namespace>:presence:<user_id>``, field = session id,
value = "<process channel>|<device class>|<device id>|<expires at, unix s>". A gateway process
refreshes all of its sessions in one pipeline every PRESENCE_REFRESH seconds, so an entry outlives
its process by at most PRESENCE_TTL; readers ignore expired entries. Without Redis (the embedded
quick start, one process) the same table lives in this process's memory.

Routing needs less than the sessions: which processes hold which users. For that, each process
has a set of the user ids with a session there (``<namespace>:gw:users:<process>``), written with
the hash entries in the same pipeline, and a sorted set lists the live processes by expiry
(``<namespace>:gw:procs``). A user leaves a process's set only when the last of their hash entries
for that process is dropped, in one script, so a login and a logout racing on one process can
never leave a connected user out of it (an extra member costs a process one needless lookup,
nothing more). ``processes`` answers for a whole team in one round trip and one reply per process.

Team rosters are cached per process (``apps.gateway.rosters``); a counter per team,
``<namespace>:roster:<team id>``, moves on every committed team change and invalidates them.
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
from redis.commands.core import AsyncScript

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
    def processes(self, user_ids: Iterable[int]) -> dict[str, set[int]]: ...
    async def aprocesses(self, user_ids: Iterable[int]) -> dict[str, set[int]]: ...
    def roster_changed(self, team_id: int) -> None: ...
    async def aroster_versions(self, team_ids: list[int]) -> list[str]: ...


# KEYS[1]: the live processes (sorted set, score = expiry). ARGV: now, the users-set prefix, the user
# ids joined by commas. Returns [process, flags, ...]: flags has "1" at the position of each user
# that process holds. SMISMEMBER in slices: Lua's unpack has a stack limit.
_WHERE = """
local procs = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], '+inf')
local ids = {}
for id in string.gmatch(ARGV[3], '[^,]+') do ids[#ids + 1] = id end
local out = {}
for _, p in ipairs(procs) do
  local key = ARGV[2] .. p
  local flags = {}
  for start = 1, #ids, 1000 do
    local found = redis.call('SMISMEMBER', key, unpack(ids, start, math.min(start + 999, #ids)))
    for i = 1, #found do flags[#flags + 1] = found[i] == 1 and '1' or '0' end
  end
  out[#out + 1] = p
  out[#out + 1] = table.concat(flags)
end
return out
"""

# KEYS[1]: the user's presence hash. ARGV: session id, users-set prefix, user id. Drops the session
# and, if the user has no other entry on that session's process, the user from its set.
_DROP = """
local raw = redis.call('HGET', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[1], ARGV[1])
if not raw then return 0 end
local process = string.match(raw, '^([^|]*)|')
for _, other in ipairs(redis.call('HVALS', KEYS[1])) do
  if string.match(other, '^([^|]*)|') == process then return 1 end
end
redis.call('SREM', ARGV[2] .. process, ARGV[3])
return 1
"""


def _where(ids: list[int], reply: list[str]) -> dict[str, set[int]]:
    found: dict[str, set[int]] = {}
    for process, flags in zip(reply[::2], reply[1::2], strict=True):
        present = {user_id for user_id, flag in zip(ids, flags, strict=True) if flag == "1"}
        if present:
            found[process] = present
    return found


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
        self.procs_key = f"{namespace}:gw:procs"
        self.users_prefix = f"{namespace}:gw:users:"
        self.roster_prefix = f"{namespace}:roster:"
        self._where = self.client.register_script(_WHERE)
        self._drop = self.client.register_script(_DROP)
        # asyncio clients belong to one event loop each.
        self._async: dict[asyncio.AbstractEventLoop, tuple[aioredis.Redis, AsyncScript]] = {}

    def put(self, entries: Iterable[SessionEntry]) -> None:
        pipe = self.client.pipeline(transaction=False)
        processes: dict[str, float] = {}
        for entry in entries:
            key = f"{self.prefix}{entry.user_id}"
            pipe.hset(key, entry.session_id, entry.encode())
            pipe.expire(key, PRESENCE_TTL)
            pipe.sadd(f"{self.users_prefix}{entry.process}", entry.user_id)
            processes[entry.process] = max(processes.get(entry.process, 0.0), entry.expires_at)
        for process, expires_at in processes.items():
            pipe.expire(f"{self.users_prefix}{process}", PRESENCE_TTL)
            pipe.zadd(self.procs_key, {process: expires_at})
        if processes:
            pipe.zremrangebyscore(self.procs_key, "-inf", time.time())
        pipe.execute()

    def drop(self, user_id: int, session_id: str) -> None:
        self._drop(keys=[f"{self.prefix}{user_id}"], args=[session_id, self.users_prefix, user_id])

    def lookup(self, user_ids: Iterable[int]) -> dict[int, list[SessionEntry]]:
        ids = list(dict.fromkeys(user_ids))
        if not ids:
            return {}
        pipe = self.client.pipeline(transaction=False)
        for user_id in ids:
            pipe.hgetall(f"{self.prefix}{user_id}")
        return _live(ids, pipe.execute())

    def _aclient(self) -> tuple[aioredis.Redis, AsyncScript]:
        loop = asyncio.get_running_loop()
        found = self._async.get(loop)
        if found is None:
            for stale in [lp for lp in self._async if lp.is_closed()]:
                del self._async[stale]
            client = aioredis.Redis.from_url(self.url, decode_responses=True, socket_timeout=5)
            found = self._async[loop] = (client, client.register_script(_WHERE))
        return found

    async def alookup(self, user_ids: Iterable[int]) -> dict[int, list[SessionEntry]]:
        ids = list(dict.fromkeys(user_ids))
        if not ids:
            return {}
        client, _ = self._aclient()
        pipe = client.pipeline(transaction=False)
        for user_id in ids:
            pipe.hgetall(f"{self.prefix}{user_id}")
        return _live(ids, await pipe.execute())

    def processes(self, user_ids: Iterable[int]) -> dict[str, set[int]]:
        ids = list(dict.fromkeys(user_ids))
        if not ids:
            return {}
        reply = self._where(keys=[self.procs_key], args=[time.time(), self.users_prefix, _joined(ids)])
        return _where(ids, reply)

    async def aprocesses(self, user_ids: Iterable[int]) -> dict[str, set[int]]:
        ids = list(dict.fromkeys(user_ids))
        if not ids:
            return {}
        _, where = self._aclient()
        reply = await where(keys=[self.procs_key], args=[time.time(), self.users_prefix, _joined(ids)])
        return _where(ids, reply)

    def roster_changed(self, team_id: int) -> None:
        self.client.incr(f"{self.roster_prefix}{team_id}")

    async def aroster_versions(self, team_ids: list[int]) -> list[str]:
        if not team_ids:
            return []
        client, _ = self._aclient()
        versions = await client.mget([f"{self.roster_prefix}{team_id}" for team_id in team_ids])
        return [str(version or "0") for version in versions]


def _joined(ids: list[int]) -> str:
    return ",".join(map(str, ids))


class MemoryPresence:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._table: dict[int, dict[str, SessionEntry]] = defaultdict(dict)
        self._rosters: dict[int, int] = {}

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

    def processes(self, user_ids: Iterable[int]) -> dict[str, set[int]]:
        found: dict[str, set[int]] = defaultdict(set)
        for user_id, entries in self.lookup(user_ids).items():
            for entry in entries:
                found[entry.process].add(user_id)
        return dict(found)

    async def aprocesses(self, user_ids: Iterable[int]) -> dict[str, set[int]]:
        return self.processes(user_ids)

    def roster_changed(self, team_id: int) -> None:
        with self._lock:
            self._rosters[team_id] = self._rosters.get(team_id, 0) + 1

    async def aroster_versions(self, team_ids: list[int]) -> list[str]:
        with self._lock:
            return [str(self._rosters.get(team_id, 0)) for team_id in team_ids]


@lru_cache(maxsize=4)
def _store_for(redis_url: str, namespace: str) -> PresenceStore:
    return RedisPresence(redis_url, namespace) if redis_url else MemoryPresence()


def presence_store() -> PresenceStore:
    return _store_for(settings.REDIS_URL, settings.REDIS_NAMESPACE)


def expiry() -> float:
    return time.time() + PRESENCE_TTL
