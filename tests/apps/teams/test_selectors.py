"""Team reads: one team, its members page by page, a user's teams."""

from __future__ import annotations

import pytest

from apps.teams.selectors import team_get, team_list_for_user, team_members_page
from apps.teams.services import team_add_members, team_dismiss, team_leave
from tests.factories import AppFactory, ImUserFactory
from tests.teams_factories import TeamFactory, make_managers, refused

pytestmark = pytest.mark.django_db


def test_team_get_finds_a_live_team_of_the_app():
    team = TeamFactory(name="Crew")
    found = team_get(app=team.app, team_id=str(team.pk))
    assert (found.pk, found.name, found.owner.accid, found.conversation.mute_all) == (
        team.pk,
        "Crew",
        team.owner.accid,
        False,
    )


def test_team_get_hides_other_apps_and_dismissed_teams():
    team = TeamFactory()
    with refused("no_such_team", field="team_id"):
        team_get(app=AppFactory(), team_id=str(team.pk))
    team_dismiss(app=team.app, team_id=str(team.pk), operator=team.owner.accid)
    with refused("no_such_team", field="team_id") as info:
        team_get(app=team.app, team_id=str(team.pk))
    assert str(team.pk) in info.value.detail


def test_members_come_in_pages_in_join_order_with_roles():
    team = TeamFactory(extra=4)
    everyone = list(team_members_page(app=team.app, team_id=str(team.pk)).members)
    make_managers(team, everyone[1].user.accid)
    first = team_members_page(app=team.app, team_id=str(team.pk), limit=2)
    second = team_members_page(app=team.app, team_id=str(team.pk), after_id=first.next_after_id, limit=2)
    third = team_members_page(app=team.app, team_id=str(team.pk), after_id=second.next_after_id, limit=2)
    pages = [first, second, third]
    assert [len(page.members) for page in pages] == [2, 2, 1]
    assert [m.user.accid for page in pages for m in page.members] == [m.user.accid for m in everyone]
    assert [m.role for m in first.members] == [2, 1]
    assert third.next_after_id is None


def test_a_member_page_never_shows_another_teams_members():
    team = TeamFactory(extra=2)
    TeamFactory(app=team.app, extra=2)
    page = team_members_page(app=team.app, team_id=str(team.pk), after_id=0)
    assert {m.conversation_id for m in page.members} == {team.pk}
    assert len(page.members) == 3


def test_members_page_of_another_apps_team_is_no_such_team():
    team = TeamFactory(extra=1)
    with refused("no_such_team", field="team_id"):
        team_members_page(app=AppFactory(), team_id=str(team.pk))


def test_team_list_for_user_shows_live_teams_they_are_in():
    app = AppFactory()
    user = ImUserFactory(app=app)
    owned = TeamFactory(app=app, owner=user)
    joined = TeamFactory(app=app)
    team_add_members(app=app, team_id=str(joined.pk), operator=joined.owner.accid, accids=[user.accid])
    left = TeamFactory(app=app, members=[user])
    team_leave(app=app, team_id=str(left.pk), accid=user.accid)
    dismissed = TeamFactory(app=app, members=[user])
    team_dismiss(app=app, team_id=str(dismissed.pk), operator=dismissed.owner.accid)
    TeamFactory(app=app)
    assert [t.pk for t in team_list_for_user(app=app, user=user)] == [owned.pk, joined.pk]
