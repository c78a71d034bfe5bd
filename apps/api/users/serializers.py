from __future__ import annotations

from rest_framework import serializers

from apps.api.fields import StrictBooleanField, StrictCharField, StrictSerializer
from apps.imusers import limits


class UserCreateIn(StrictSerializer):
    accid = StrictCharField(max_length=limits.ACCID_MAX_LENGTH, trim_whitespace=False)
    name = StrictCharField(required=False, allow_blank=True, max_length=limits.NAME_MAX_LENGTH)
    avatar = StrictCharField(required=False, allow_blank=True, max_length=limits.AVATAR_MAX_LENGTH)
    ext = StrictCharField(required=False, allow_blank=True, max_length=limits.EXT_MAX_LENGTH)
    token = StrictCharField(required=False, max_length=limits.TOKEN_MAX_LENGTH, trim_whitespace=False)


class UserUpdateIn(StrictSerializer):
    name = StrictCharField(required=False, allow_blank=True, max_length=limits.NAME_MAX_LENGTH)
    avatar = StrictCharField(required=False, allow_blank=True, max_length=limits.AVATAR_MAX_LENGTH)
    ext = StrictCharField(required=False, allow_blank=True, max_length=limits.EXT_MAX_LENGTH)


class TokenIn(StrictSerializer):
    token = StrictCharField(required=False, max_length=limits.TOKEN_MAX_LENGTH, trim_whitespace=False)


class BlockIn(StrictSerializer):
    kick = StrictBooleanField(required=False, default=False)


class UserOut(serializers.Serializer):  # type: ignore[type-arg]
    accid = serializers.CharField()
    name = serializers.CharField()
    avatar = serializers.CharField()
    ext = serializers.CharField()
    blocked = serializers.BooleanField(source="is_blocked")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class UserTokenOut(serializers.Serializer):  # type: ignore[type-arg]
    accid = serializers.CharField()
    token = serializers.CharField()


class UserPageOut(serializers.Serializer):  # type: ignore[type-arg]
    users = UserOut(many=True)
    next_cursor = serializers.CharField(allow_null=True)


class BlockOut(serializers.Serializer):  # type: ignore[type-arg]
    accid = serializers.CharField()
    blocked = serializers.BooleanField()
