"""Team services: creation, profile, membership, roles and mutes, each rule and each cap."""

from __future__ import annotations

import pytest

from apps.messaging.models import Conversation, ConversationKind, ConversationMember, MemberRole
from apps.teams import limits
from apps.teams.models import Team
from apps.teams.services import (
    team_add_managers,
    team_add_members,
    team_create,
    team_dismiss,
    team_leave,
    team_mute_all,
    team_mute_member,
    team_remove_managers,
    team_remove_members,
    team_transfer_owner,
    team_update,
)
from tests.factories import AppFactory, ImUserFactory
from tests.teams_factories import (
    TeamFactory,
    fresh,
    make_managers,
    members_of,
    plain_members,
    refused,
    roles_of,
    set_last_seq,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def team() -> Team:
    """Owner, one manager ("boss"), two plain members ("m1", "m2"); one outsider user ("stranger")."""
    app = AppFactory()
    owner = ImUserFactory(app=app, accid="owner")
    for accid in ("boss", "m1", "m2", "stranger"):
        ImUserFactory(app=app, accid=accid)
    created = team_create(app=app, owner=owner.accid, name="Crew", members=["boss", "m1", "m2"])
    make_managers(created, "boss")
    return fresh(created)


def tid(team: Team) -> str:
    return str(team.pk)


# Create ------------------------------------------------------------------------------------------


def test_create_makes_a_team_conversation_with_the_same_id_and_the_owner_in_it():
    app = AppFactory()
    ImUserFactory(app=app, accid="ann")
    ImUserFactory(app=app, accid="bea")
    team = team_create(app=app, owner="ann", name="Book club", members=["bea"], intro="We read")
    conversation = Conversation.objects.get(pk=team.pk)
    assert (conversation.kind, conversation.app_id, conversation.closed) == (
        ConversationKind.TEAM,
        app.pk,
        False,
    )
    assert conversation.updated_ms > 0
    assert (team.name, team.intro, team.owner.accid, team.max_members) == ("Book club", "We read", "ann", 200)
    assert roles_of(team) == {"ann": "owner", "bea": "member"}
    assert fresh(team).member_count == 2


def test_create_starts_every_member_at_the_beginning_of_the_stream():
    team = TeamFactory(extra=2)
    rows = members_of(team).values()
    assert {(row.joined_seq, row.read_seq, row.muted) for row in rows} == {(0, 0, False)}
    assert all(row.updated_ms > 0 for row in rows)


def test_create_ignores_the_owner_and_repeats_in_the_member_list():
    app = AppFactory()
    ImUserFactory(app=app, accid="ann")
    ImUserFactory(app=app, accid="bea")
    team = team_create(app=app, owner="ann", name="T", members=["bea", "ann", "bea"])
    assert roles_of(team) == {"ann": "owner", "bea": "member"}
    assert fresh(team).member_count == 2


@pytest.mark.parametrize("max_members", [limits.TEAM_MEMBERS_MIN, 500, limits.TEAM_MEMBERS_MAX])
def test_max_members_up_to_ten_thousand_is_allowed(max_members):
    team = TeamFactory(max_members=max_members)
    assert fresh(team).max_members == max_members


@pytest.mark.parametrize("max_members", [-1, 0, 1, limits.TEAM_MEMBERS_MAX + 1, 10**9, True])
def test_max_members_outside_two_to_ten_thousand_is_refused(max_members):
    app = AppFactory()
    owner = ImUserFactory(app=app)
    with refused("invalid_field", field="max_members"):
        team_create(app=app, owner=owner.accid, name="T", max_members=max_members)
    assert not Team.objects.filter(app=app).exists()


def test_create_with_more_members_than_max_members_is_team_full_and_creates_nothing():
    app = AppFactory()
    owner = ImUserFactory(app=app)
    others = [u.accid for u in ImUserFactory.create_batch(3, app=app)]
    with refused("team_full", field="members"):
        team_create(app=app, owner=owner.accid, name="T", members=others, max_members=3)
    assert not Conversation.objects.filter(app=app).exists()
    assert not ConversationMember.objects.filter(app=app).exists()


def test_create_filling_max_members_exactly_is_allowed():
    app = AppFactory()
    owner = ImUserFactory(app=app)
    others = [u.accid for u in ImUserFactory.create_batch(2, app=app)]
    team = team_create(app=app, owner=owner.accid, name="T", members=others, max_members=3)
    assert fresh(team).member_count == 3


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "n" * 65}, "name"),
        ({"intro": "i" * 513}, "intro"),
        ({"announcement": "a" * 1025}, "announcement"),
        ({"icon": "c" * 1025}, "icon"),
        ({"ext": "e" * 1025}, "ext"),
        ({"members": ["x"] * 501}, "members"),
        ({"members": "owner"}, "members"),
    ],
)
def test_create_refuses_bad_input_and_names_the_field(overrides, field):
    app = AppFactory()
    ImUserFactory(app=app, accid="owner")
    with refused("invalid_field", field=field):
        team_create(app=app, **{"owner": "owner", "name": "T", **overrides})
    assert not Team.objects.filter(app=app).exists()


def test_create_accepts_fields_at_their_caps():
    app = AppFactory()
    ImUserFactory(app=app, accid="owner")
    team = team_create(
        app=app,
        owner="owner",
        name="n" * 64,
        intro="i" * 512,
        announcement="a" * 1024,
        icon="c" * 1024,
        ext="e" * 1024,
    )
    assert len(fresh(team).name) == 64


def test_create_with_an_unknown_owner_is_no_such_user():
    app = AppFactory()
    with refused("no_such_user", field="owner") as info:
        team_create(app=app, owner="ghost", name="T")
    assert "'ghost'" in info.value.detail


def test_create_names_every_missing_member_and_creates_nothing():
    app = AppFactory()
    ImUserFactory(app=app, accid="ann")
    ImUserFactory(app=app, accid="bea")
    with refused("no_such_user", field="members") as info:
        team_create(app=app, owner="ann", name="T", members=["bea", "ghost1", "ghost2"])
    assert "'ghost1'" in info.value.detail
    assert "'ghost2'" in info.value.detail
    assert "'bea'" not in info.value.detail
    assert not Team.objects.filter(app=app).exists()


def test_users_of_another_app_cannot_be_members():
    app, other = AppFactory(), AppFactory()
    ImUserFactory(app=app, accid="ann")
    ImUserFactory(app=other, accid="outsider")
    with refused("no_such_user", field="members"):
        team_create(app=app, owner="ann", name="T", members=["outsider"])
    with refused("no_such_user", field="owner"):
        team_create(app=app, owner="outsider", name="T")


# Update ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("operator", ["owner", "boss"])
def test_owner_and_managers_update_only_the_given_fields(team, operator):
    before = fresh(team)
    updated = team_update(
        app=team.app,
        team_id=tid(team),
        operator=operator,
        name="Renamed",
        announcement="Hello",
        max_members=300,
    )
    after = fresh(team)
    assert (updated.name, after.name, after.announcement, after.max_members) == (
        "Renamed",
        "Renamed",
        "Hello",
        300,
    )
    assert (after.intro, after.icon, after.ext) == (before.intro, before.icon, before.ext)
    assert after.conversation.updated_ms >= before.conversation.updated_ms


def test_update_bumps_the_conversation_for_list_sync(team):
    Conversation.objects.filter(pk=team.pk).update(updated_ms=1)
    team_update(app=team.app, team_id=tid(team), operator="owner", intro="new")
    assert fresh(team).conversation.updated_ms > 1


def test_a_plain_member_cannot_update(team):
    with refused("not_team_manager", field="operator"):
        team_update(app=team.app, team_id=tid(team), operator="m1", name="Mine now")
    assert fresh(team).name == "Crew"


def test_a_non_member_cannot_update(team):
    with refused("not_team_member", field="operator"):
        team_update(app=team.app, team_id=tid(team), operator="stranger", name="Mine now")
    with refused("no_such_user", field="operator"):
        team_update(app=team.app, team_id=tid(team), operator="ghost", name="Mine now")
    assert fresh(team).name == "Crew"


def test_max_members_cannot_drop_below_the_member_count(team):
    with refused("team_full", field="max_members"):
        team_update(app=team.app, team_id=tid(team), operator="owner", max_members=3)
    assert team_update(app=team.app, team_id=tid(team), operator="owner", max_members=4).max_members == 4


def test_update_to_ten_thousand_members_is_allowed(team):
    team_update(app=team.app, team_id=tid(team), operator="owner", max_members=10_000)
    assert fresh(team).max_members == 10_000


def test_update_to_ten_thousand_and_one_members_is_refused(team):
    with refused("invalid_field", field="max_members"):
        team_update(app=team.app, team_id=tid(team), operator="owner", max_members=10_001)
    assert fresh(team).max_members == 200


# Dismiss -----------------------------------------------------------------------------------------


def test_the_owner_dismisses_and_the_team_is_gone_for_every_service(team):
    team_dismiss(app=team.app, team_id=tid(team), operator="owner")
    assert Conversation.objects.get(pk=team.pk).closed is True
    with refused("no_such_team", field="team_id"):
        team_add_members(app=team.app, team_id=tid(team), operator="owner", accids=["stranger"])
    with refused("no_such_team", field="team_id"):
        team_dismiss(app=team.app, team_id=tid(team), operator="owner")


@pytest.mark.parametrize(("operator", "code"), [("boss", "not_team_owner"), ("m1", "not_team_owner")])
def test_only_the_owner_dismisses(team, operator, code):
    with refused(code, field="operator"):
        team_dismiss(app=team.app, team_id=tid(team), operator=operator)
    assert Conversation.objects.get(pk=team.pk).closed is False


# Add members -------------------------------------------------------------------------------------


@pytest.mark.parametrize("operator", ["owner", "boss"])
def test_owner_and_managers_add_members(team, operator):
    change = team_add_members(app=team.app, team_id=tid(team), operator=operator, accids=["stranger"])
    assert change.changed == ["stranger"]
    assert change.team.member_count == 5
    assert fresh(team).member_count == 5
    assert roles_of(team)["stranger"] == "member"


def test_a_new_member_joins_at_the_current_end_of_the_stream(team):
    set_last_seq(team, 42)
    team_add_members(app=team.app, team_id=tid(team), operator="owner", accids=["stranger"])
    row = members_of(team)["stranger"]
    assert (row.joined_seq, row.read_seq) == (42, 42)
    assert row.updated_ms > 0
    assert members_of(team)["m1"].joined_seq == 0


def test_adding_existing_members_is_a_no_op(team):
    set_last_seq(team, 9)
    before = members_of(team)["m1"]
    change = team_add_members(
        app=team.app, team_id=tid(team), operator="owner", accids=["m1", "boss", "owner"]
    )
    after = members_of(team)["m1"]
    assert change.changed == []
    assert fresh(team).member_count == 4
    assert (after.pk, after.joined_seq, after.role) == (before.pk, 0, MemberRole.MEMBER)
    assert roles_of(team) == {"owner": "owner", "boss": "manager", "m1": "member", "m2": "member"}


def test_adding_a_mix_adds_only_the_new_ones_once(team):
    change = team_add_members(
        app=team.app, team_id=tid(team), operator="owner", accids=["m1", "stranger", "stranger"]
    )
    assert change.changed == ["stranger"]
    assert fresh(team).member_count == 5
    assert plain_members(team) == ["m1", "m2", "stranger"]


def test_a_plain_member_cannot_add(team):
    with refused("not_team_manager", field="operator"):
        team_add_members(app=team.app, team_id=tid(team), operator="m1", accids=["stranger"])
    assert "stranger" not in members_of(team)


def test_adding_beyond_max_members_is_team_full_and_adds_nobody():
    team = TeamFactory(extra=1, max_members=3)
    newcomers = [u.accid for u in ImUserFactory.create_batch(2, app=team.app)]
    with refused("team_full", field="accids"):
        team_add_members(app=team.app, team_id=tid(team), operator=team.owner.accid, accids=newcomers)
    assert fresh(team).member_count == 2
    assert len(members_of(team)) == 2


def test_adding_up_to_max_members_exactly_is_allowed_and_then_the_team_is_full():
    team = TeamFactory(extra=1, max_members=3)
    first, second = ImUserFactory.create_batch(2, app=team.app)
    team_add_members(app=team.app, team_id=tid(team), operator=team.owner.accid, accids=[first.accid])
    with refused("team_full", field="accids"):
        team_add_members(app=team.app, team_id=tid(team), operator=team.owner.accid, accids=[second.accid])
    assert fresh(team).member_count == 3
    # Re-adding someone already in a full team is still fine: nothing changes.
    again = team_add_members(app=team.app, team_id=tid(team), operator=team.owner.accid, accids=[first.accid])
    assert again.changed == []


def test_adding_unknown_users_names_them_and_adds_nobody(team):
    with refused("no_such_user", field="accids") as info:
        team_add_members(app=team.app, team_id=tid(team), operator="owner", accids=["stranger", "nobody"])
    assert "'nobody'" in info.value.detail
    assert "'stranger'" not in info.value.detail
    assert "stranger" not in members_of(team)


@pytest.mark.parametrize("accids", [[], ["x"] * 501])
def test_the_accid_list_is_one_to_five_hundred_long(team, accids):
    with refused("invalid_field", field="accids"):
        team_add_members(app=team.app, team_id=tid(team), operator="owner", accids=accids)


def test_five_hundred_accids_in_one_call_are_accepted(team):
    accids = [u.accid for u in ImUserFactory.create_batch(500, app=team.app)]
    team_update(app=team.app, team_id=tid(team), operator="owner", max_members=1000)
    change = team_add_members(app=team.app, team_id=tid(team), operator="owner", accids=accids)
    assert len(change.changed) == 500
    assert fresh(team).member_count == 504


def test_adding_bumps_the_conversation_for_list_sync(team):
    Conversation.objects.filter(pk=team.pk).update(updated_ms=1)
    team_add_members(app=team.app, team_id=tid(team), operator="owner", accids=["stranger"])
    assert fresh(team).conversation.updated_ms > 1


# Remove members ----------------------------------------------------------------------------------


def test_the_owner_removes_members_and_managers(team):
    change = team_remove_members(app=team.app, team_id=tid(team), operator="owner", accids=["m1", "boss"])
    assert change.changed == ["m1", "boss"]
    assert roles_of(team) == {"owner": "owner", "m2": "member"}
    assert fresh(team).member_count == 2


def test_a_manager_removes_plain_members(team):
    change = team_remove_members(app=team.app, team_id=tid(team), operator="boss", accids=["m2"])
    assert change.changed == ["m2"]
    assert fresh(team).member_count == 3


def test_a_manager_cannot_remove_another_manager(team):
    make_managers(team, "m1")
    with refused("not_team_owner", field="operator"):
        team_remove_members(app=team.app, team_id=tid(team), operator="boss", accids=["m2", "m1"])
    assert set(members_of(team)) == {"owner", "boss", "m1", "m2"}


@pytest.mark.parametrize("operator", ["owner", "boss"])
def test_nobody_removes_the_owner(team, operator):
    with refused("owner_protected", field="accids"):
        team_remove_members(app=team.app, team_id=tid(team), operator=operator, accids=["owner"])
    assert roles_of(team)["owner"] == "owner"
    assert fresh(team).member_count == 4


def test_a_plain_member_cannot_remove(team):
    with refused("not_team_manager", field="operator"):
        team_remove_members(app=team.app, team_id=tid(team), operator="m1", accids=["m2"])
    assert "m2" in members_of(team)


def test_removing_a_user_who_is_not_in_the_team_is_a_no_op(team):
    change = team_remove_members(app=team.app, team_id=tid(team), operator="owner", accids=["stranger"])
    assert change.changed == []
    assert fresh(team).member_count == 4


def test_removing_an_unknown_user_is_no_such_user(team):
    with refused("no_such_user", field="accids"):
        team_remove_members(app=team.app, team_id=tid(team), operator="owner", accids=["m1", "ghost"])
    assert "m1" in members_of(team)


def test_a_removed_member_who_comes_back_joins_at_the_new_end(team):
    team_remove_members(app=team.app, team_id=tid(team), operator="owner", accids=["m1"])
    set_last_seq(team, 15)
    team_add_members(app=team.app, team_id=tid(team), operator="owner", accids=["m1"])
    assert members_of(team)["m1"].joined_seq == 15
    assert fresh(team).member_count == 4


# Leave -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("accid", ["m1", "boss"])
def test_members_and_managers_leave(team, accid):
    left = team_leave(app=team.app, team_id=tid(team), accid=accid)
    assert left.member_count == 3
    assert accid not in members_of(team)


def test_the_owner_cannot_leave(team):
    with refused("owner_cannot_leave", field="accid"):
        team_leave(app=team.app, team_id=tid(team), accid="owner")
    assert fresh(team).member_count == 4


def test_leaving_a_team_you_are_not_in_is_refused(team):
    with refused("not_team_member", field="accid"):
        team_leave(app=team.app, team_id=tid(team), accid="stranger")
    with refused("no_such_user", field="accid"):
        team_leave(app=team.app, team_id=tid(team), accid="ghost")
    assert fresh(team).member_count == 4


# Transfer ownership ------------------------------------------------------------------------------


def test_transfer_makes_the_old_owner_a_plain_member(team):
    result = team_transfer_owner(app=team.app, team_id=tid(team), operator="owner", new_owner="m1")
    assert result.owner.accid == "m1"
    assert fresh(team).owner.accid == "m1"
    assert roles_of(team) == {"owner": "member", "boss": "manager", "m1": "owner", "m2": "member"}
    assert fresh(team).member_count == 4


def test_transfer_with_leave_removes_the_old_owner(team):
    team_transfer_owner(app=team.app, team_id=tid(team), operator="owner", new_owner="boss", leave=True)
    assert roles_of(team) == {"boss": "owner", "m1": "member", "m2": "member"}
    assert fresh(team).member_count == 3


def test_a_muted_member_who_becomes_owner_is_unmuted(team):
    team_mute_member(app=team.app, team_id=tid(team), operator="owner", accid="m1", muted=True)
    team_transfer_owner(app=team.app, team_id=tid(team), operator="owner", new_owner="m1")
    assert members_of(team)["m1"].muted is False


def test_the_new_owner_has_the_owners_powers_and_the_old_one_loses_them(team):
    team_transfer_owner(app=team.app, team_id=tid(team), operator="owner", new_owner="m1")
    team_mute_all(app=team.app, team_id=tid(team), operator="m1", muted=True)
    with refused("not_team_owner", field="operator"):
        team_dismiss(app=team.app, team_id=tid(team), operator="owner")
    assert fresh(team).conversation.mute_all is True


@pytest.mark.parametrize("operator", ["boss", "m1"])
def test_only_the_owner_transfers(team, operator):
    with refused("not_team_owner", field="operator"):
        team_transfer_owner(app=team.app, team_id=tid(team), operator=operator, new_owner="m2")
    assert fresh(team).owner.accid == "owner"


def test_transfer_to_a_non_member_is_refused(team):
    with refused("not_team_member", field="new_owner"):
        team_transfer_owner(app=team.app, team_id=tid(team), operator="owner", new_owner="stranger")
    with refused("no_such_user", field="new_owner"):
        team_transfer_owner(app=team.app, team_id=tid(team), operator="owner", new_owner="ghost")
    assert fresh(team).owner.accid == "owner"


def test_transfer_to_yourself_is_refused(team):
    with refused("invalid_field", field="new_owner"):
        team_transfer_owner(app=team.app, team_id=tid(team), operator="owner", new_owner="owner", leave=True)
    assert roles_of(team)["owner"] == "owner"


# Managers ----------------------------------------------------------------------------------------


def test_the_owner_adds_and_removes_managers_idempotently(team):
    added = team_add_managers(app=team.app, team_id=tid(team), operator="owner", accids=["m1", "boss"])
    assert added.changed == ["m1"]
    assert roles_of(team) == {"owner": "owner", "boss": "manager", "m1": "manager", "m2": "member"}
    removed = team_remove_managers(app=team.app, team_id=tid(team), operator="owner", accids=["boss", "m2"])
    assert removed.changed == ["boss"]
    assert roles_of(team) == {"owner": "owner", "boss": "member", "m1": "manager", "m2": "member"}


@pytest.mark.parametrize("operator", ["boss", "m1"])
def test_only_the_owner_changes_managers(team, operator):
    with refused("not_team_owner", field="operator"):
        team_add_managers(app=team.app, team_id=tid(team), operator=operator, accids=["m2"])
    with refused("not_team_owner", field="operator"):
        team_remove_managers(app=team.app, team_id=tid(team), operator=operator, accids=["boss"])
    assert roles_of(team)["boss"] == "manager"
    assert roles_of(team)["m2"] == "member"


def test_managers_must_be_members(team):
    with refused("not_team_member", field="accids") as info:
        team_add_managers(app=team.app, team_id=tid(team), operator="owner", accids=["m1", "stranger"])
    assert "'stranger'" in info.value.detail
    assert roles_of(team)["m1"] == "member"


@pytest.mark.parametrize("service", [team_add_managers, team_remove_managers])
def test_the_owner_is_never_made_or_unmade_a_manager(team, service):
    with refused("owner_protected", field="accids"):
        service(app=team.app, team_id=tid(team), operator="owner", accids=["owner"])
    assert roles_of(team)["owner"] == "owner"


# Mutes -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("operator", ["owner", "boss"])
def test_owner_and_managers_mute_and_unmute_members(team, operator):
    member = team_mute_member(app=team.app, team_id=tid(team), operator=operator, accid="m1", muted=True)
    assert (member.user.accid, member.muted, members_of(team)["m1"].muted) == ("m1", True, True)
    team_mute_member(app=team.app, team_id=tid(team), operator=operator, accid="m1", muted=False)
    assert members_of(team)["m1"].muted is False


def test_muting_stamps_the_member_and_the_conversation(team):
    Conversation.objects.filter(pk=team.pk).update(updated_ms=1)
    ConversationMember.objects.filter(conversation_id=team.pk).update(updated_ms=1)
    team_mute_member(app=team.app, team_id=tid(team), operator="owner", accid="m1", muted=True)
    assert members_of(team)["m1"].updated_ms > 1
    assert members_of(team)["m2"].updated_ms == 1
    assert fresh(team).conversation.updated_ms > 1


def test_only_the_owner_mutes_a_manager(team):
    make_managers(team, "m1")
    with refused("not_team_owner", field="operator"):
        team_mute_member(app=team.app, team_id=tid(team), operator="boss", accid="m1", muted=True)
    assert members_of(team)["m1"].muted is False
    team_mute_member(app=team.app, team_id=tid(team), operator="owner", accid="m1", muted=True)
    assert members_of(team)["m1"].muted is True


@pytest.mark.parametrize("operator", ["owner", "boss"])
def test_nobody_mutes_the_owner(team, operator):
    with refused("owner_protected", field="accid"):
        team_mute_member(app=team.app, team_id=tid(team), operator=operator, accid="owner", muted=True)
    assert members_of(team)["owner"].muted is False


def test_a_plain_member_cannot_mute(team):
    with refused("not_team_manager", field="operator"):
        team_mute_member(app=team.app, team_id=tid(team), operator="m1", accid="m2", muted=True)
    assert members_of(team)["m2"].muted is False


def test_muting_someone_outside_the_team_is_refused(team):
    with refused("not_team_member", field="accid"):
        team_mute_member(app=team.app, team_id=tid(team), operator="owner", accid="stranger", muted=True)


def test_the_owner_mutes_and_unmutes_everyone(team):
    assert team_mute_all(app=team.app, team_id=tid(team), operator="owner", muted=True).conversation.mute_all
    assert fresh(team).conversation.mute_all is True
    team_mute_all(app=team.app, team_id=tid(team), operator="owner", muted=False)
    assert fresh(team).conversation.mute_all is False


@pytest.mark.parametrize("operator", ["boss", "m1"])
def test_only_the_owner_mutes_everyone(team, operator):
    with refused("not_team_owner", field="operator"):
        team_mute_all(app=team.app, team_id=tid(team), operator=operator, muted=True)
    assert fresh(team).conversation.mute_all is False


# Tenancy and team ids ----------------------------------------------------------------------------

WRITES = [
    (team_update, {"operator": "owner", "name": "x"}),
    (team_dismiss, {"operator": "owner"}),
    (team_add_members, {"operator": "owner", "accids": ["stranger"]}),
    (team_remove_members, {"operator": "owner", "accids": ["m1"]}),
    (team_leave, {"accid": "m1"}),
    (team_transfer_owner, {"operator": "owner", "new_owner": "m1"}),
    (team_add_managers, {"operator": "owner", "accids": ["m1"]}),
    (team_remove_managers, {"operator": "owner", "accids": ["boss"]}),
    (team_mute_member, {"operator": "owner", "accid": "m1", "muted": True}),
    (team_mute_all, {"operator": "owner", "muted": True}),
]


@pytest.mark.parametrize(("service", "kwargs"), WRITES)
def test_every_write_in_another_app_is_no_such_team(team, service, kwargs):
    other = AppFactory()
    for accid in ("owner", "boss", "m1", "m2", "stranger"):
        ImUserFactory(app=other, accid=accid)
    before = (roles_of(team), fresh(team).name, fresh(team).member_count)
    with refused("no_such_team", field="team_id"):
        service(app=other, team_id=tid(team), **kwargs)
    assert (roles_of(team), fresh(team).name, fresh(team).member_count) == before


@pytest.mark.parametrize("team_id", ["", "abc", "-1", "1.0", "1e3", " 1", "\uff11", "9" * 19])
@pytest.mark.parametrize(("service", "kwargs"), WRITES)
def test_team_ids_that_cannot_name_a_team_are_no_such_team(team, service, kwargs, team_id):
    with refused("no_such_team", field="team_id"):
        service(app=team.app, team_id=team_id, **kwargs)


def test_a_one_to_one_conversation_is_not_a_team(team):
    p2p = Conversation.objects.create(app=team.app, kind=ConversationKind.P2P)
    with refused("no_such_team", field="team_id"):
        team_add_members(app=team.app, team_id=str(p2p.pk), operator="owner", accids=["m1"])
