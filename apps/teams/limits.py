"""Limits on teams, named once; docs/teams.md quotes them."""

from apps.messaging.limits import TEAM_MEMBERS_DEFAULT, TEAM_MEMBERS_MAX

__all__ = [
    "ACCIDS_PER_CALL_MAX",
    "ANNOUNCEMENT_MAX_LENGTH",
    "EXT_MAX_LENGTH",
    "ICON_MAX_LENGTH",
    "INTRO_MAX_LENGTH",
    "MEMBERS_PAGE_MAX",
    "NAME_MAX_LENGTH",
    "TEAM_MEMBERS_DEFAULT",
    "TEAM_MEMBERS_MAX",
    "TEAM_MEMBERS_MIN",
]

NAME_MAX_LENGTH = 64
INTRO_MAX_LENGTH = 512
ANNOUNCEMENT_MAX_LENGTH = 1024
ICON_MAX_LENGTH = 1024
EXT_MAX_LENGTH = 1024
# max_members runs from TEAM_MEMBERS_MIN to TEAM_MEMBERS_MAX, TEAM_MEMBERS_DEFAULT when not given.
TEAM_MEMBERS_MIN = 2
# How many accids one add/remove/managers call may name (and `members` at creation).
ACCIDS_PER_CALL_MAX = 500
MEMBERS_PAGE_MAX = 100
