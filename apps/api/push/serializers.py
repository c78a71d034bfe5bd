from __future__ import annotations

from rest_framework import serializers

from apps.api.fields import (
    EnumField,
    StrictBooleanField,
    StrictCharField,
    StrictIntegerField,
    StrictSerializer,
)
from apps.api.messages.serializers import CONVERSATION_TYPES
from apps.push.models import Provider


class DeviceIn(StrictSerializer):
    device_id = StrictCharField(max_length=64)
    provider = serializers.ChoiceField(choices=Provider.choices)
    token = StrictCharField(max_length=2048, trim_whitespace=False)
    p256dh = StrictCharField(required=False, allow_blank=True, max_length=128)
    auth = StrictCharField(required=False, allow_blank=True, max_length=64)
    bundle_id = StrictCharField(required=False, allow_blank=True, max_length=255)
    locale = StrictCharField(required=False, allow_blank=True, max_length=16)


class DeviceOut(serializers.Serializer):  # type: ignore[type-arg]
    device_id = serializers.CharField()
    provider = serializers.CharField()
    bundle_id = serializers.CharField()
    locale = serializers.CharField()
    foreground = serializers.BooleanField()
    updated_at = serializers.DateTimeField()


class DeviceListOut(serializers.Serializer):  # type: ignore[type-arg]
    devices = DeviceOut(many=True)


class PreferencesIn(StrictSerializer):
    push_enabled = StrictBooleanField()
    dnd_enabled = StrictBooleanField()
    dnd_start_minute = StrictIntegerField(min_value=0, max_value=1439)
    dnd_end_minute = StrictIntegerField(min_value=0, max_value=1439)
    timezone = StrictCharField(max_length=64)


class PreferencesOut(serializers.Serializer):  # type: ignore[type-arg]
    push_enabled = serializers.BooleanField()
    dnd_enabled = serializers.BooleanField()
    dnd_start_minute = serializers.IntegerField()
    dnd_end_minute = serializers.IntegerField()
    timezone = serializers.CharField()


class MuteIn(StrictSerializer):
    conversation_type = EnumField(CONVERSATION_TYPES)
    to = StrictCharField(max_length=32)
    muted = StrictBooleanField()


class MuteOut(serializers.Serializer):  # type: ignore[type-arg]
    conversation_type = serializers.CharField()
    to = serializers.CharField()
    muted = serializers.BooleanField()
