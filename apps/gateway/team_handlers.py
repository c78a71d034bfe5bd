"""Team frames: the logged-in user creates, reads and changes teams through the same services as
the REST team endpoints, as the operator (or owner) of the change.

Changes are announced to the members' devices by ``team_notice`` pushes, sent by the services'
after-commit hook (apps/gateway/publish.py ``team_changed``) whichever transport made them.
"""

from __future__ import annotations

from apps.api.cursors import cursor_decode, cursor_encode
from apps.gateway.caller import Caller, Handler, Reply, ack
from apps.gateway.db import db
from apps.messaging.models import ConversationMember, MemberRole
from apps.protocol import imcloud_pb2 as pb
from apps.teams import limits, selectors, services
from apps.teams.models import Team

ROLES = {
    MemberRole.OWNER: pb.TEAM_ROLE_OWNER,
    MemberRole.MANAGER: pb.TEAM_ROLE_MANAGER,
    MemberRole.MEMBER: pb.TEAM_ROLE_MEMBER,
}


def team_info(team: Team) -> pb.TeamInfo:
    return pb.TeamInfo(
        team_id=str(team.pk),
        name=team.name,
        owner=team.owner.accid,
        intro=team.intro,
        announcement=team.announcement,
        icon=team.icon,
        ext=team.ext,
        max_members=team.max_members,
        member_count=team.member_count,
        mute_all=team.conversation.mute_all,
    )


def member_proto(member: ConversationMember) -> pb.TeamMember:
    return pb.TeamMember(
        accid=member.user.accid,
        role=ROLES.get(MemberRole(member.role), pb.TEAM_ROLE_UNSPECIFIED),
        muted=member.muted,
        joined_seq=member.joined_seq,
    )


def _info_reply(frame: pb.Frame, team: Team) -> pb.Frame:
    return pb.Frame(request_id=frame.request_id, team_info=team_info(team))


def _create(caller: Caller, request: pb.CreateTeam) -> Team:
    return services.team_create(
        app=caller.app,
        owner=caller.user.accid,
        name=request.name,
        members=list(request.members),
        intro=request.intro,
        announcement=request.announcement,
        icon=request.icon,
        ext=request.ext,
        max_members=request.max_members or limits.TEAM_MEMBERS_DEFAULT,
    )


async def create_team(caller: Caller, frame: pb.Frame) -> Reply:
    team = await db(_create)(caller, frame.create_team)
    return _info_reply(frame, team)


async def get_team(caller: Caller, frame: pb.Frame) -> Reply:
    team = await db(selectors.team_get_for_member)(
        app=caller.app, team_id=frame.get_team.team_id, user=caller.user
    )
    return _info_reply(frame, team)


async def list_my_teams(caller: Caller, frame: pb.Frame) -> Reply:
    teams = await db(selectors.team_list_for_user)(app=caller.app, user=caller.user)
    return pb.Frame(request_id=frame.request_id, team_list=pb.TeamList(teams=[team_info(t) for t in teams]))


async def add_team_members(caller: Caller, frame: pb.Frame) -> Reply:
    request = frame.add_team_members
    change = await db(services.team_add_members)(
        app=caller.app, team_id=request.team_id, operator=caller.user.accid, accids=list(request.accids)
    )
    return _info_reply(frame, change.team)


async def remove_team_members(caller: Caller, frame: pb.Frame) -> Reply:
    request = frame.remove_team_members
    change = await db(services.team_remove_members)(
        app=caller.app, team_id=request.team_id, operator=caller.user.accid, accids=list(request.accids)
    )
    return _info_reply(frame, change.team)


async def leave_team(caller: Caller, frame: pb.Frame) -> Reply:
    await db(services.team_leave)(app=caller.app, team_id=frame.leave_team.team_id, accid=caller.user.accid)
    return ack(frame)


async def dismiss_team(caller: Caller, frame: pb.Frame) -> Reply:
    await db(services.team_dismiss)(
        app=caller.app, team_id=frame.dismiss_team.team_id, operator=caller.user.accid
    )
    return ack(frame)


def _members(caller: Caller, request: pb.ListTeamMembers) -> pb.TeamMembers:
    selectors.team_get_for_member(app=caller.app, team_id=request.team_id, user=caller.user)
    page = selectors.team_members_page(
        app=caller.app,
        team_id=request.team_id,
        after_id=cursor_decode(request.cursor),
        limit=request.limit or limits.MEMBERS_PAGE_MAX,
    )
    cursor = "" if page.next_after_id is None else cursor_encode(after_id=page.next_after_id)
    return pb.TeamMembers(
        team_id=request.team_id, members=[member_proto(m) for m in page.members], cursor=cursor
    )


async def list_team_members(caller: Caller, frame: pb.Frame) -> Reply:
    members = await db(_members)(caller, frame.list_team_members)
    return pb.Frame(request_id=frame.request_id, team_members=members)


HANDLERS: dict[str, Handler] = {
    "create_team": create_team,
    "get_team": get_team,
    "list_my_teams": list_my_teams,
    "add_team_members": add_team_members,
    "remove_team_members": remove_team_members,
    "leave_team": leave_team,
    "dismiss_team": dismiss_team,
    "list_team_members": list_team_members,
}
