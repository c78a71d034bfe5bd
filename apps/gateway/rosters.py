"""Team rosters cached per gateway process, for fan-out.

A 10,000-member roster is 10,000 rows to read per message; it changes far less often than it is
read. Each entry remembers the team's roster version (a Redis counter that every committed team
change moves, see ``apps.gateway.publish.team_changed``) and is used only while that version is
current and for at most ROSTER_TTL seconds, which bounds staleness should a version bump be lost
(a crash between a commit and its after-commit hook). The database stays the truth: a member
added in that window receives the message by sync.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from apps.gateway.db import db
from apps.gateway.presence import presence_store

ROSTER_TTL = 30.0
MAX_TEAMS = 256


def rosters_load(team_ids: Iterable[int]) -> dict[int, list[int]]:
    """The member ids of each team, from the database."""
    from apps.messaging.models import ConversationMember

    rosters: dict[int, list[int]] = {team_id: [] for team_id in team_ids}
    rows = ConversationMember.objects.filter(conversation_id__in=list(rosters)).values_list(
        "conversation_id", "user_id"
    )
    for conversation_id, user_id in rows:
        rosters[conversation_id].append(user_id)
    return rosters


class RosterCache:
    def __init__(self) -> None:
        # team id -> (version, loaded at, member ids); insertion order is load order.
        self._entries: dict[int, tuple[str, float, list[int]]] = {}

    async def get_many(self, team_ids: Iterable[int]) -> dict[int, list[int]]:
        wanted = list(dict.fromkeys(team_ids))
        if not wanted:
            return {}
        # The versions are read before the database: a change committed after this read moves the
        # version again, so the next message reloads.
        versions = dict(zip(wanted, await presence_store().aroster_versions(wanted), strict=True))
        now = time.monotonic()
        found: dict[int, list[int]] = {}
        for team_id in wanted:
            entry = self._entries.get(team_id)
            if entry is not None and entry[0] == versions[team_id] and now - entry[1] < ROSTER_TTL:
                found[team_id] = entry[2]
        missing = [team_id for team_id in wanted if team_id not in found]
        if missing:
            loaded = await db(rosters_load)(missing)
            for team_id in missing:
                self._entries.pop(team_id, None)
                self._entries[team_id] = (versions[team_id], now, loaded[team_id])
                found[team_id] = loaded[team_id]
            while len(self._entries) > MAX_TEAMS:
                del self._entries[next(iter(self._entries))]
        return found
