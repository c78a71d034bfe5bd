"""Writes on teams. Every function takes the app it acts for and names users by accid.

A team is a team conversation plus its Team profile row (same primary key). Membership, roles and
mutes are the conversation's ConversationMember rows. Every write that changes membership locks the
conversation row first (the same row a message send locks to take its seq), so the member cap holds
under concurrent adds and a new member's ``joined_seq`` is exactly the last seq before they joined.

The REST API calls these as the app server; ``operator`` is the member on whose authority the
change is made, and permissions are checked against their role:

- owner and managers: change the profile, add and remove members, mute members;
- owner only: dismiss, transfer ownership, add and remove managers, mute everyone;
- nobody may remove or mute the owner; managers may not remove or mute other managers.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from apps.core.errors import InvalidField
from apps.imusers.models import ImUser
from apps.messaging.clock import now_ms
from apps.messaging.models import Conversation, ConversationKind, ConversationMember, MemberRole
from apps.teams import errors, limits
from apps.teams.models import Team
from apps.teams.selectors import team_id_parse
from apps.tenants.models import App

logger = logging.getLogger(__name__)

# Changes to a list of members; when the list is empty nothing changed.
BATCH_CHANGES = frozenset({"members_added", "members_removed", "managers_added", "managers_removed"})


@dataclass(frozen=True)
class TeamChange:
    """The team after a batch change, and the accids whose state the change actually altered."""

    team: Team
    changed: list[str]


# Input checks ------------------------------------------------------------------------------------


def _check_text(value: str | None, *, field: str, cap: int) -> None:
    if value is not None and len(value) > cap:
        raise InvalidField(f"{field} has at most {cap} characters", field=field)


def _check_profile(
    *,
    name: str | None,
    intro: str | None,
    announcement: str | None,
    icon: str | None,
    ext: str | None,
) -> None:
    if name is not None and (not name.strip() or len(name) > limits.NAME_MAX_LENGTH):
        raise InvalidField(f"name is 1 to {limits.NAME_MAX_LENGTH} characters, not blank", field="name")
    _check_text(intro, field="intro", cap=limits.INTRO_MAX_LENGTH)
    _check_text(announcement, field="announcement", cap=limits.ANNOUNCEMENT_MAX_LENGTH)
    _check_text(icon, field="icon", cap=limits.ICON_MAX_LENGTH)
    _check_text(ext, field="ext", cap=limits.EXT_MAX_LENGTH)


def _check_max_members(max_members: int) -> None:
    low, high = limits.TEAM_MEMBERS_MIN, limits.TEAM_MEMBERS_MAX
    if isinstance(max_members, bool) or not isinstance(max_members, int) or not low <= max_members <= high:
        raise InvalidField(f"max_members is an integer from {low} to {high}", field="max_members")


def _check_accids(accids: Sequence[str], *, field: str, allow_empty: bool) -> list[str]:
    """The accids without repeats, in the order given."""
    if isinstance(accids, str) or not all(isinstance(accid, str) for accid in accids):
        raise InvalidField(f"{field} is a list of accids", field=field)
    if len(accids) > limits.ACCIDS_PER_CALL_MAX:
        raise InvalidField(f"{field} names at most {limits.ACCIDS_PER_CALL_MAX} accids", field=field)
    if not accids and not allow_empty:
        raise InvalidField(f"{field} names at least one accid", field=field)
    return list(dict.fromkeys(accids))


# Lookups inside the locked team ------------------------------------------------------------------


def _users(*, app: App, accids: list[str], field: str) -> list[ImUser]:
    """The app's users with these accids, in the same order; any missing one is named."""
    found = {user.accid: user for user in ImUser.objects.filter(app=app, accid__in=accids)}
    missing = [accid for accid in accids if accid not in found]
    if missing:
        raise errors.no_such_user(missing, field=field)
    return [found[accid] for accid in accids]


def _user(*, app: App, accid: str, field: str) -> ImUser:
    return _users(app=app, accids=[accid], field=field)[0]


def _lock_team(*, app: App, team_id: str) -> Team:
    """The live team, its conversation row locked until the transaction ends."""
    pk = team_id_parse(team_id)
    conversation = (
        Conversation.objects.select_for_update()
        .filter(app=app, pk=pk, kind=ConversationKind.TEAM, closed=False)
        .first()
    )
    if conversation is None:
        raise errors.no_such_team(team_id)
    team = Team.objects.select_related("owner").filter(app=app, pk=pk).first()
    if team is None:
        raise errors.no_such_team(team_id)
    team.conversation = conversation
    return team


def _members_of(team: Team, users: list[ImUser]) -> dict[int, ConversationMember]:
    """The team's member rows for these users, by user id (non-members are absent)."""
    rows = ConversationMember.objects.filter(conversation_id=team.pk, user__in=users)
    return {row.user_id: row for row in rows}


def _operator(*, app: App, team: Team, accid: str, need: MemberRole, action: str) -> ConversationMember:
    """The operator's member row, if their role allows ``action`` (need OWNER, or MANAGER and up)."""
    user = _user(app=app, accid=accid, field="operator")
    member = _members_of(team, [user]).get(user.pk)
    if member is None:
        raise errors.not_team_member([accid], field="operator")
    if need == MemberRole.OWNER and member.role != MemberRole.OWNER:
        raise errors.not_team_owner(action)
    if need == MemberRole.MANAGER and member.role == MemberRole.MEMBER:
        raise errors.not_team_manager(action)
    member.user = user
    return member


def _target(*, app: App, team: Team, accid: str, field: str) -> ConversationMember:
    user = _user(app=app, accid=accid, field=field)
    member = _members_of(team, [user]).get(user.pk)
    if member is None:
        raise errors.not_team_member([accid], field=field)
    member.user = user
    return member


def _touch(team: Team, stamp: int, **conversation_fields: object) -> None:
    """Stamp the conversation as changed (conversation-list sync compares ``updated_ms``)."""
    Conversation.objects.filter(pk=team.pk).update(updated_ms=stamp, **conversation_fields)
    team.conversation.updated_ms = stamp
    for name, value in conversation_fields.items():
        setattr(team.conversation, name, value)


def _count(team: Team, delta: int) -> None:
    Team.objects.filter(pk=team.pk).update(member_count=F("member_count") + delta, updated_at=timezone.now())
    team.refresh_from_db(fields=["member_count", "updated_at"])


def _new_member(*, app: App, team: Team, user: ImUser, role: MemberRole, stamp: int) -> ConversationMember:
    # A member sees the stream from the moment they join: nothing before counts as unread.
    seq = team.conversation.last_seq
    return ConversationMember(
        app=app,
        conversation=team.conversation,
        user=user,
        role=role,
        joined_seq=seq,
        read_seq=seq,
        updated_ms=stamp,
    )


def _log(
    message: str,
    *,
    app: App,
    team: Team,
    change: str,
    operator: str = "",
    accids: Sequence[str] = (),
    **extra: object,
) -> None:
    """Log a committed team change, send it to the app server's webhook (``team.changed``) and, after
    commit, to the live devices of the team's members (``team_notice``)."""
    from apps.gateway import publish
    from apps.webhooks.payloads import webhook_payload_for_team
    from apps.webhooks.services import webhook_emit

    logger.info(message, extra={"app_key": app.app_key, "team_id": team.pk, **extra})
    payload = webhook_payload_for_team(
        team=team, change=change, operator=operator, accids=accids, server_time=now_ms()
    )
    webhook_emit(app=app, type="team.changed", payload=payload)
    if change in BATCH_CHANGES and not accids:
        return  # a batch that changed nobody: nothing for the members' devices to learn
    # The owner change names the new owner to the devices (the webhook has it as ``owner``).
    named = [team.owner.accid] if change == "owner_transferred" else list(accids)
    app_id, team_id = app.pk, team.pk
    # A plain function, not a partial: Django's robust on_commit logs a failing hook by its
    # __qualname__, which a partial lacks (docs/performance.md, the robustness note).
    transaction.on_commit(
        lambda: publish.team_changed(
            app_id=app_id, team_id=team_id, change=change, operator=operator, accids=named
        ),
        robust=True,
    )


# Services ----------------------------------------------------------------------------------------


def team_create(
    *,
    app: App,
    owner: str,
    name: str,
    members: Sequence[str] = (),
    intro: str = "",
    announcement: str = "",
    icon: str = "",
    ext: str = "",
    max_members: int = limits.TEAM_MEMBERS_DEFAULT,
) -> Team:
    """Create a team owned by ``owner`` with ``members`` in it (the owner need not be listed)."""
    _check_profile(name=name, intro=intro, announcement=announcement, icon=icon, ext=ext)
    _check_max_members(max_members)
    accids = _check_accids(members, field="members", allow_empty=True)
    owner_user = _user(app=app, accid=owner, field="owner")
    others = [user for user in _users(app=app, accids=accids, field="members") if user.pk != owner_user.pk]
    if 1 + len(others) > max_members:
        raise errors.team_full(max_members=max_members, field="members")
    stamp = now_ms()
    with transaction.atomic():
        conversation = Conversation.objects.create(app=app, kind=ConversationKind.TEAM, updated_ms=stamp)
        team = Team.objects.create(
            conversation=conversation,
            app=app,
            name=name,
            owner=owner_user,
            intro=intro,
            announcement=announcement,
            icon=icon,
            ext=ext,
            max_members=max_members,
            member_count=1 + len(others),
        )
        ConversationMember.objects.bulk_create(
            [
                _new_member(app=app, team=team, user=owner_user, role=MemberRole.OWNER, stamp=stamp),
                *(
                    _new_member(app=app, team=team, user=u, role=MemberRole.MEMBER, stamp=stamp)
                    for u in others
                ),
            ]
        )
    _log(
        "team created",
        app=app,
        team=team,
        change="created",
        operator=owner,
        accids=accids,
        members=team.member_count,
    )
    return team


def team_update(
    *,
    app: App,
    team_id: str,
    operator: str,
    name: str | None = None,
    intro: str | None = None,
    announcement: str | None = None,
    icon: str | None = None,
    ext: str | None = None,
    max_members: int | None = None,
) -> Team:
    """Change profile fields (owner or manager); ``None`` leaves a field as it is."""
    _check_profile(name=name, intro=intro, announcement=announcement, icon=icon, ext=ext)
    if max_members is not None:
        _check_max_members(max_members)
    with transaction.atomic():
        team = _lock_team(app=app, team_id=team_id)
        _operator(app=app, team=team, accid=operator, need=MemberRole.MANAGER, action="change the team")
        if max_members is not None and max_members < team.member_count:
            raise errors.team_full(max_members=max_members, field="max_members")
        values = {
            "name": name,
            "intro": intro,
            "announcement": announcement,
            "icon": icon,
            "ext": ext,
            "max_members": max_members,
        }
        changed = [field for field, value in values.items() if value is not None]
        for field in changed:
            setattr(team, field, values[field])
        if changed:
            team.save(update_fields=[*changed, "updated_at"])
            _touch(team, now_ms())
    if changed:
        _log("team updated", app=app, team=team, change="updated", operator=operator, fields=changed)
    return team


def team_dismiss(*, app: App, team_id: str, operator: str) -> Team:
    """Close the team for good (owner only). It then answers ``no_such_team`` everywhere."""
    with transaction.atomic():
        team = _lock_team(app=app, team_id=team_id)
        _operator(app=app, team=team, accid=operator, need=MemberRole.OWNER, action="dismiss the team")
        _touch(team, now_ms(), closed=True)
    _log("team dismissed", app=app, team=team, change="dismissed", operator=operator)
    return team


def team_add_members(*, app: App, team_id: str, operator: str, accids: Sequence[str]) -> TeamChange:
    """Add users (owner or manager). Users already in the team are left as they are."""
    wanted = _check_accids(accids, field="accids", allow_empty=False)
    with transaction.atomic():
        team = _lock_team(app=app, team_id=team_id)
        _operator(app=app, team=team, accid=operator, need=MemberRole.MANAGER, action="add members")
        users = _users(app=app, accids=wanted, field="accids")
        present = _members_of(team, users)
        joining = [user for user in users if user.pk not in present]
        if joining:
            if team.member_count + len(joining) > team.max_members:
                raise errors.team_full(max_members=team.max_members, field="accids")
            stamp = now_ms()
            ConversationMember.objects.bulk_create(
                [
                    _new_member(app=app, team=team, user=u, role=MemberRole.MEMBER, stamp=stamp)
                    for u in joining
                ]
            )
            _count(team, len(joining))
            _touch(team, stamp)
    _log(
        "team members added", app=app, team=team, change="members_added", operator=operator,
        accids=[u.accid for u in joining], added=len(joining),
    )  # fmt: skip
    return TeamChange(team=team, changed=[user.accid for user in joining])


def team_remove_members(*, app: App, team_id: str, operator: str, accids: Sequence[str]) -> TeamChange:
    """Remove users (owner or manager; only the owner removes managers; nobody removes the owner).

    Users who exist but are not in the team are left as they are.
    """
    wanted = _check_accids(accids, field="accids", allow_empty=False)
    with transaction.atomic():
        team = _lock_team(app=app, team_id=team_id)
        actor = _operator(
            app=app, team=team, accid=operator, need=MemberRole.MANAGER, action="remove members"
        )
        users = _users(app=app, accids=wanted, field="accids")
        present = _members_of(team, users)
        leaving = [user for user in users if user.pk in present]
        roles = {present[user.pk].role for user in leaving}
        if MemberRole.OWNER in roles:
            raise errors.owner_protected("removed", field="accids")
        if MemberRole.MANAGER in roles and actor.role != MemberRole.OWNER:
            raise errors.not_team_owner("remove a manager")
        if leaving:
            ConversationMember.objects.filter(pk__in=[present[user.pk].pk for user in leaving]).delete()
            _count(team, -len(leaving))
            _touch(team, now_ms())
    _log(
        "team members removed", app=app, team=team, change="members_removed", operator=operator,
        accids=[u.accid for u in leaving], removed=len(leaving),
    )  # fmt: skip
    return TeamChange(team=team, changed=[user.accid for user in leaving])


def team_leave(*, app: App, team_id: str, accid: str) -> Team:
    """The user leaves the team. The owner cannot: they transfer ownership first."""
    with transaction.atomic():
        team = _lock_team(app=app, team_id=team_id)
        member = _target(app=app, team=team, accid=accid, field="accid")
        if member.role == MemberRole.OWNER:
            raise errors.owner_cannot_leave()
        member.delete()
        _count(team, -1)
        _touch(team, now_ms())
    _log("team member left", app=app, team=team, change="member_left", operator=accid, accids=[accid])
    return team


def team_transfer_owner(
    *, app: App, team_id: str, operator: str, new_owner: str, leave: bool = False
) -> Team:
    """Make another member the owner (owner only). The old owner stays as a plain member, or with
    ``leave`` leaves the team in the same step."""
    with transaction.atomic():
        team = _lock_team(app=app, team_id=team_id)
        actor = _operator(
            app=app, team=team, accid=operator, need=MemberRole.OWNER, action="transfer the team"
        )
        if new_owner == operator:
            raise InvalidField("new_owner is already the owner", field="new_owner")
        heir = _target(app=app, team=team, accid=new_owner, field="new_owner")
        stamp = now_ms()
        # The owner is never muted.
        ConversationMember.objects.filter(pk=heir.pk).update(
            role=MemberRole.OWNER, muted=False, updated_ms=stamp
        )
        if leave:
            actor.delete()
            _count(team, -1)
        else:
            ConversationMember.objects.filter(pk=actor.pk).update(role=MemberRole.MEMBER, updated_ms=stamp)
        team.owner = heir.user
        team.save(update_fields=["owner", "updated_at"])
        _touch(team, stamp)
    _log(
        "team owner transferred",
        app=app,
        team=team,
        change="owner_transferred",
        operator=operator,
        left=leave,
    )
    return team


def _set_roles(*, app: App, team_id: str, operator: str, accids: Sequence[str], promote: bool) -> TeamChange:
    wanted = _check_accids(accids, field="accids", allow_empty=False)
    action = "add managers" if promote else "remove managers"
    with transaction.atomic():
        team = _lock_team(app=app, team_id=team_id)
        _operator(app=app, team=team, accid=operator, need=MemberRole.OWNER, action=action)
        users = _users(app=app, accids=wanted, field="accids")
        present = _members_of(team, users)
        outsiders = [user.accid for user in users if user.pk not in present]
        if outsiders:
            raise errors.not_team_member(outsiders, field="accids")
        if any(present[user.pk].role == MemberRole.OWNER for user in users):
            raise errors.owner_protected("made a manager" if promote else "demoted", field="accids")
        was, becomes = (
            (MemberRole.MEMBER, MemberRole.MANAGER) if promote else (MemberRole.MANAGER, MemberRole.MEMBER)
        )
        moving = [user for user in users if present[user.pk].role == was]
        if moving:
            stamp = now_ms()
            ConversationMember.objects.filter(pk__in=[present[user.pk].pk for user in moving]).update(
                role=becomes, updated_ms=stamp
            )
            _touch(team, stamp)
    _log(
        f"team managers {'added' if promote else 'removed'}", app=app, team=team,
        change="managers_added" if promote else "managers_removed", operator=operator,
        accids=[u.accid for u in moving], changed=len(moving),
    )  # fmt: skip
    return TeamChange(team=team, changed=[user.accid for user in moving])


def team_add_managers(*, app: App, team_id: str, operator: str, accids: Sequence[str]) -> TeamChange:
    """Make members managers (owner only). Managers already are left as they are."""
    return _set_roles(app=app, team_id=team_id, operator=operator, accids=accids, promote=True)


def team_remove_managers(*, app: App, team_id: str, operator: str, accids: Sequence[str]) -> TeamChange:
    """Make managers plain members again (owner only). Plain members are left as they are."""
    return _set_roles(app=app, team_id=team_id, operator=operator, accids=accids, promote=False)


def team_mute_member(*, app: App, team_id: str, operator: str, accid: str, muted: bool) -> ConversationMember:
    """Mute or unmute one member (owner or manager; only the owner mutes managers; never the owner)."""
    with transaction.atomic():
        team = _lock_team(app=app, team_id=team_id)
        actor = _operator(app=app, team=team, accid=operator, need=MemberRole.MANAGER, action="mute members")
        member = _target(app=app, team=team, accid=accid, field="accid")
        if member.role == MemberRole.OWNER:
            raise errors.owner_protected("muted", field="accid")
        if member.role == MemberRole.MANAGER and actor.role != MemberRole.OWNER:
            raise errors.not_team_owner("mute a manager")
        changing = member.muted != muted
        if changing:
            stamp = now_ms()
            ConversationMember.objects.filter(pk=member.pk).update(muted=muted, updated_ms=stamp)
            member.muted, member.updated_ms = muted, stamp
            _touch(team, stamp)
    if changing:
        change = "member_muted" if muted else "member_unmuted"
        _log("team member muted", app=app, team=team, change=change, operator=operator, accids=[accid])
    return member


def team_mute_all(*, app: App, team_id: str, operator: str, muted: bool) -> Team:
    """Mute everyone but the owner and managers, or lift that (owner only)."""
    with transaction.atomic():
        team = _lock_team(app=app, team_id=team_id)
        _operator(app=app, team=team, accid=operator, need=MemberRole.OWNER, action="mute the whole team")
        changing = team.conversation.mute_all != muted
        if changing:
            _touch(team, now_ms(), mute_all=muted)
    if changing:
        _log(
            "team mute-all",
            app=app,
            team=team,
            change="mute_all_on" if muted else "mute_all_off",
            operator=operator,
        )
    return team
