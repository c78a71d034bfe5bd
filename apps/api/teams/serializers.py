from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.api.fields import StrictBooleanField, StrictCharField, StrictIntegerField, StrictSerializer
from apps.imusers import limits as user_limits
from apps.messaging.models import MemberRole
from apps.teams import limits


class StrictAccidListField(serializers.ListField):
    """A JSON array of accid strings."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", limits.ACCIDS_PER_CALL_MAX)
        super().__init__(
            child=StrictCharField(max_length=user_limits.ACCID_MAX_LENGTH, trim_whitespace=False), **kwargs
        )


def _accid(**kwargs: Any) -> StrictCharField:
    return StrictCharField(max_length=user_limits.ACCID_MAX_LENGTH, trim_whitespace=False, **kwargs)


def _text(cap: int) -> StrictCharField:
    return StrictCharField(required=False, allow_blank=True, max_length=cap)


class TeamCreateIn(StrictSerializer):
    owner = _accid()
    name = StrictCharField(max_length=limits.NAME_MAX_LENGTH)
    members = StrictAccidListField(required=False)
    intro = _text(limits.INTRO_MAX_LENGTH)
    announcement = _text(limits.ANNOUNCEMENT_MAX_LENGTH)
    icon = _text(limits.ICON_MAX_LENGTH)
    ext = _text(limits.EXT_MAX_LENGTH)
    max_members = StrictIntegerField(
        required=False, min_value=limits.TEAM_MEMBERS_MIN, max_value=limits.TEAM_MEMBERS_MAX
    )


class TeamUpdateIn(StrictSerializer):
    operator = _accid()
    name = StrictCharField(required=False, max_length=limits.NAME_MAX_LENGTH)
    intro = _text(limits.INTRO_MAX_LENGTH)
    announcement = _text(limits.ANNOUNCEMENT_MAX_LENGTH)
    icon = _text(limits.ICON_MAX_LENGTH)
    ext = _text(limits.EXT_MAX_LENGTH)
    max_members = StrictIntegerField(
        required=False, min_value=limits.TEAM_MEMBERS_MIN, max_value=limits.TEAM_MEMBERS_MAX
    )


class OperatorIn(StrictSerializer):
    operator = _accid()


class AccidsIn(StrictSerializer):
    operator = _accid()
    accids = StrictAccidListField(min_length=1)


class LeaveIn(StrictSerializer):
    accid = _accid()


class TransferOwnerIn(StrictSerializer):
    operator = _accid()
    new_owner = _accid()
    leave = StrictBooleanField(required=False, default=False)


class MuteMemberIn(StrictSerializer):
    operator = _accid()
    accid = _accid()
    muted = StrictBooleanField()


class MuteAllIn(StrictSerializer):
    operator = _accid()
    muted = StrictBooleanField()


class TeamOut(serializers.Serializer):  # type: ignore[type-arg]
    team_id = serializers.CharField(source="pk")
    name = serializers.CharField()
    owner = serializers.CharField(source="owner.accid")
    intro = serializers.CharField()
    announcement = serializers.CharField()
    icon = serializers.CharField()
    ext = serializers.CharField()
    max_members = serializers.IntegerField()
    member_count = serializers.IntegerField()
    mute_all = serializers.BooleanField(source="conversation.mute_all")
    created_at = serializers.DateTimeField()


class DismissOut(serializers.Serializer):  # type: ignore[type-arg]
    team_id = serializers.CharField()
    dismissed = serializers.BooleanField()


class TeamChangeOut(serializers.Serializer):  # type: ignore[type-arg]
    team_id = serializers.CharField(source="team.pk")
    changed = serializers.ListField(
        child=serializers.CharField(),
        help_text="The accids whose state this call changed; those already so are left out.",
    )
    member_count = serializers.IntegerField(source="team.member_count")


class LeaveOut(serializers.Serializer):  # type: ignore[type-arg]
    team_id = serializers.CharField()
    accid = serializers.CharField()
    member_count = serializers.IntegerField()


class MuteMemberOut(serializers.Serializer):  # type: ignore[type-arg]
    team_id = serializers.CharField(source="conversation_id")
    accid = serializers.CharField(source="user.accid")
    muted = serializers.BooleanField()


class MemberOut(serializers.Serializer):  # type: ignore[type-arg]
    accid = serializers.CharField(source="user.accid")
    role = serializers.SerializerMethodField()
    muted = serializers.BooleanField()
    joined_at = serializers.DateTimeField()

    @extend_schema_field(serializers.ChoiceField(choices=["owner", "manager", "member"]))
    def get_role(self, member: Any) -> str:
        return str(MemberRole(member.role).label)


class MemberPageOut(serializers.Serializer):  # type: ignore[type-arg]
    members = MemberOut(many=True)
    next_cursor = serializers.CharField(allow_null=True)
