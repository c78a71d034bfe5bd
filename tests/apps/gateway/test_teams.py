"""Team frames over the gateway, as the logged-in user, and the team_notice pushes of team changes."""

from __future__ import annotations

from typing import Any

import pytest

from apps.gateway import publish
from apps.protocol import imcloud_pb2 as pb
from apps.teams.models import Team
from apps.teams.services import team_create
from tests.apps.gateway.conftest import db_async
from tests.factories import AppFactory, ImUserFactory
from tests.signing import SignedClient
from tests.teams_factories import TeamFactory, members_of, roles_of

pytestmark = pytest.mark.django_db(transaction=True)


async def _crew(app: Any, owner: str = "alice", members: tuple[str, ...] = ("bob",)) -> Team:
    team: Team = await db_async(team_create)(app=app, owner=owner, name="Crew", members=list(members))
    return team


async def _notice(client: Any, timeout: float = 5) -> pb.TeamNotice:
    return (await client.next_push("team_notice", timeout=timeout)).team_notice


async def test_create_team_makes_the_caller_owner_and_tells_the_members(app, users, connect):
    alice, bob = await connect("alice"), await connect("bob")
    reply = await alice.request(
        create_team=pb.CreateTeam(name="Crew", members=["bob", "carol"], intro="hi", max_members=10)
    )
    info = reply.team_info
    notice = await _notice(bob)
    team = await db_async(Team.objects.get)(pk=int(info.team_id))
    assert (info.name, info.owner, info.intro, info.max_members, info.member_count) == (
        "Crew",
        "alice",
        "hi",
        10,
        3,
    )
    assert await db_async(roles_of)(team) == {"alice": "owner", "bob": "member", "carol": "member"}
    assert (notice.team_id, notice.kind, notice.operator, list(notice.accids)) == (
        info.team_id,
        pb.TEAM_CHANGE_KIND_CREATED,
        "alice",
        ["bob", "carol"],
    )


async def test_create_team_defaults_max_members_and_refuses_bad_input(app, users, connect):
    alice = await connect("alice")
    created = (await alice.request(create_team=pb.CreateTeam(name="Crew"))).team_info
    blank = (await alice.request(create_team=pb.CreateTeam(name="  "))).error
    ghost = (await alice.request(create_team=pb.CreateTeam(name="Crew", members=["ghost"]))).error
    assert (created.max_members, created.member_count) == (200, 1)
    assert blank.code == "invalid_field"
    assert ghost.code == "no_such_user"
    assert blank.fatal is False


async def test_get_team_and_list_my_teams_show_only_the_callers_teams(app, users, connect):
    mine = await _crew(app)
    other = await _crew(app, owner="carol", members=())
    alice = await connect("alice")
    got = (await alice.request(get_team=pb.GetTeam(team_id=str(mine.pk)))).team_info
    listed = (await alice.request(list_my_teams=pb.ListMyTeams())).team_list
    not_mine = (await alice.request(get_team=pb.GetTeam(team_id=str(other.pk)))).error
    missing = (await alice.request(get_team=pb.GetTeam(team_id="999999"))).error
    assert (got.team_id, got.owner, got.member_count, got.mute_all) == (str(mine.pk), "alice", 2, False)
    assert [t.team_id for t in listed.teams] == [str(mine.pk)]
    assert not_mine.code == "not_team_member"
    assert missing.code == "no_such_team"


async def test_another_apps_team_is_no_team_at_all(app, users, connect):
    elsewhere = await db_async(TeamFactory)(app=await db_async(AppFactory)(), extra=1)
    alice = await connect("alice")
    for body in (
        {"get_team": pb.GetTeam(team_id=str(elsewhere.pk))},
        {"add_team_members": pb.AddTeamMembers(team_id=str(elsewhere.pk), accids=["bob"])},
        {"dismiss_team": pb.DismissTeam(team_id=str(elsewhere.pk))},
        {"list_team_members": pb.ListTeamMembers(team_id=str(elsewhere.pk))},
    ):
        assert (await alice.request(**body)).error.code == "no_such_team"
    assert len(await db_async(members_of)(elsewhere)) == 2


async def test_adding_members_answers_the_team_and_tells_old_and_new_members(app, users, connect):
    team = await _crew(app)
    alice, bob, carol = await connect("alice"), await connect("bob"), await connect("carol")
    info = (
        await alice.request(add_team_members=pb.AddTeamMembers(team_id=str(team.pk), accids=["carol"]))
    ).team_info
    notices = [await _notice(c) for c in (alice, bob, carol)]
    assert info.member_count == 3
    assert {(n.kind, n.operator, tuple(n.accids)) for n in notices} == {
        (pb.TEAM_CHANGE_KIND_MEMBERS_ADDED, "alice", ("carol",))
    }


async def test_adding_nobody_new_sends_no_notice(app, users, connect):
    team = await _crew(app)
    alice, bob = await connect("alice"), await connect("bob")
    reply = await alice.request(add_team_members=pb.AddTeamMembers(team_id=str(team.pk), accids=["bob"]))
    assert reply.team_info.member_count == 2
    assert await bob.no_push() == []


async def test_a_plain_member_may_not_add_or_remove_and_gets_the_domain_code(app, users, connect):
    team = await _crew(app)
    bob = await connect("bob")
    add = await bob.request(add_team_members=pb.AddTeamMembers(team_id=str(team.pk), accids=["carol"]))
    remove = await bob.request(
        remove_team_members=pb.RemoveTeamMembers(team_id=str(team.pk), accids=["alice"])
    )
    dismiss = await bob.request(dismiss_team=pb.DismissTeam(team_id=str(team.pk)))
    assert (add.error.code, remove.error.code, dismiss.error.code) == (
        "not_team_manager",
        "not_team_manager",
        "not_team_owner",
    )
    assert set(await db_async(members_of)(team)) == {"alice", "bob"}


async def test_a_removed_member_is_told_too(app, users, connect):
    team = await _crew(app, members=("bob", "carol"))
    alice, bob, carol = await connect("alice"), await connect("bob"), await connect("carol")
    info = (
        await alice.request(remove_team_members=pb.RemoveTeamMembers(team_id=str(team.pk), accids=["carol"]))
    ).team_info
    notices = [await _notice(c) for c in (bob, carol)]
    assert info.member_count == 2
    assert {(n.kind, tuple(n.accids)) for n in notices} == {(pb.TEAM_CHANGE_KIND_MEMBERS_REMOVED, ("carol",))}
    assert set(await db_async(members_of)(team)) == {"alice", "bob"}


async def test_leaving_acks_and_the_owner_cannot_leave(app, users, connect):
    team = await _crew(app)
    alice, bob = await connect("alice"), await connect("bob")
    left = await bob.request(leave_team=pb.LeaveTeam(team_id=str(team.pk)))
    to_owner = await _notice(alice)
    to_leaver = await _notice(bob)
    owner = await alice.request(leave_team=pb.LeaveTeam(team_id=str(team.pk)))
    assert left.WhichOneof("body") == "ack"
    assert (to_owner.kind, to_owner.operator, list(to_owner.accids)) == (
        pb.TEAM_CHANGE_KIND_MEMBER_LEFT,
        "bob",
        ["bob"],
    )
    assert to_leaver.kind == pb.TEAM_CHANGE_KIND_MEMBER_LEFT
    assert owner.error.code == "owner_cannot_leave"


async def test_dismissing_acks_tells_everyone_and_the_team_is_gone(app, users, connect):
    team = await _crew(app)
    alice, bob = await connect("alice"), await connect("bob")
    dismissed = await alice.request(dismiss_team=pb.DismissTeam(team_id=str(team.pk)))
    notice = await _notice(bob)
    after = await bob.request(get_team=pb.GetTeam(team_id=str(team.pk)))
    assert dismissed.WhichOneof("body") == "ack"
    assert (notice.kind, notice.operator) == (pb.TEAM_CHANGE_KIND_DISMISSED, "alice")
    assert after.error.code == "no_such_team"


async def test_members_are_listed_in_pages_with_roles(app, users, connect):
    extra = [await db_async(ImUserFactory)(app=app, accid=f"m{n}") for n in range(3)]
    team = await _crew(app, members=("bob", *(u.accid for u in extra)))
    alice, carol = await connect("alice"), await connect("carol")
    seen: list[tuple[str, int]] = []
    cursor, pages = "", 0
    while True:
        page = (
            await alice.request(
                list_team_members=pb.ListTeamMembers(team_id=str(team.pk), cursor=cursor, limit=2)
            )
        ).team_members
        seen += [(m.accid, m.role) for m in page.members]
        pages += 1
        cursor = page.cursor
        if not cursor:
            break
    outsider = await carol.request(list_team_members=pb.ListTeamMembers(team_id=str(team.pk)))
    bad_cursor = await alice.request(list_team_members=pb.ListTeamMembers(team_id=str(team.pk), cursor="!!"))
    assert pages == 3
    assert seen == [
        ("alice", pb.TEAM_ROLE_OWNER),
        ("bob", pb.TEAM_ROLE_MEMBER),
        ("m0", pb.TEAM_ROLE_MEMBER),
        ("m1", pb.TEAM_ROLE_MEMBER),
        ("m2", pb.TEAM_ROLE_MEMBER),
    ]
    assert outsider.error.code == "not_team_member"
    assert (bad_cursor.error.code, bad_cursor.error.message) == (
        "invalid_field",
        "cursor is not one this API returned.",
    )


async def test_changes_made_through_rest_reach_the_members_devices(app, users, connect):
    team = await _crew(app, members=("bob", "carol"))
    bob, carol = await connect("bob"), await connect("carol")
    client = SignedClient(app)
    renamed = await db_async(client.patch)(f"/api/v1/teams/{team.pk}", {"operator": "alice", "name": "New"})
    owner = await db_async(client.post)(
        f"/api/v1/teams/{team.pk}/owner", {"operator": "alice", "new_owner": "carol", "leave": True}
    )
    updated, transferred = await _notice(bob), await _notice(bob)
    to_heir = [await _notice(carol), await _notice(carol)]
    assert (renamed.status_code, owner.status_code) == (200, 200)
    assert (updated.kind, updated.operator) == (pb.TEAM_CHANGE_KIND_UPDATED, "alice")
    assert (transferred.kind, list(transferred.accids)) == (pb.TEAM_CHANGE_KIND_OWNER_CHANGED, ["carol"])
    assert [n.kind for n in to_heir] == [pb.TEAM_CHANGE_KIND_UPDATED, pb.TEAM_CHANGE_KIND_OWNER_CHANGED]


async def test_a_notice_is_one_delivery_per_gateway_process_whatever_the_number_of_members(
    app, users, connect, monkeypatch
):
    more = [await db_async(ImUserFactory)(app=app, accid=f"m{n}") for n in range(5)]
    team = await _crew(app, members=("bob", "carol", *(u.accid for u in more)))
    clients = [await connect(accid) for accid in ("bob", "carol", *(u.accid for u in more))]
    dispatched: list[dict[str, Any]] = []
    real = publish._dispatch
    monkeypatch.setattr(
        publish, "_dispatch", lambda messages: (dispatched.append(messages), real(messages))[1]
    )
    alice = await connect("alice")
    await alice.request(add_team_members=pb.AddTeamMembers(team_id=str(team.pk), accids=["m0"]))
    renamed = await db_async(SignedClient(app).patch)(
        f"/api/v1/teams/{team.pk}", {"operator": "alice", "intro": "x"}
    )
    got = [await _notice(c) for c in clients]
    assert renamed.status_code == 200
    assert {n.kind for n in got} == {pb.TEAM_CHANGE_KIND_UPDATED}
    assert len(dispatched) == 1  # the add changed nobody; the update is one fan-out
    (messages,) = dispatched
    assert len(messages) == 1  # one process holds every session: one layer message
    (message,) = messages.values()
    ((user_ids, _frame, _exclude),) = message["groups"]
    assert len(user_ids) == 8
