"""Serializer fields that refuse what DRF would silently coerce (123 -> "123", "yes" -> True)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from rest_framework import serializers

QUERY_INT = re.compile(r"[0-9]{1,18}")


class StrictCharField(serializers.CharField):
    default_error_messages = {"invalid": "Must be a string."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


class StrictBooleanField(serializers.BooleanField):
    default_error_messages = {"invalid": "Must be true or false."}

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class StrictSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """Refuses a body that is not an object, and any field it does not declare."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, dict):
            raise serializers.ValidationError(
                {"non_field_errors": ["The body must be a JSON object."]}, code="invalid"
            )
        unknown = sorted(set(data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError(
                {name: ["Unknown field."] for name in unknown}, code="unknown_field"
            )
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer, and only that: "12", 12.0 and true are refused."""

    default_error_messages = {"invalid": "Must be an integer."}

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return int(data)


class StrictFloatField(serializers.FloatField):
    """A JSON number (integer or not): "1.5" and true are refused."""

    default_error_messages = {"invalid": "Must be a number."}

    def to_internal_value(self, data: Any) -> float:
        if isinstance(data, bool) or not isinstance(data, int | float) or not math.isfinite(data):
            self.fail("invalid")
        return float(data)


class QueryIntegerField(serializers.IntegerField):
    """A query-string integer: decimal digits only ("1.0", "-1", "1e3" are refused)."""

    default_error_messages = {"invalid": "Must be a whole number written in digits."}

    def to_internal_value(self, data: Any) -> int:
        if not isinstance(data, str) or not QUERY_INT.fullmatch(data):
            self.fail("invalid")
        return int(data)


class EnumField(serializers.ChoiceField):
    """A string naming one value of an integer enum; validated data is the integer."""

    default_error_messages = {"invalid_choice": "Must be one of: {choices}."}

    def __init__(self, mapping: Mapping[str, int], **kwargs: Any) -> None:
        self.mapping = dict(mapping)
        super().__init__(choices=list(self.mapping), **kwargs)

    def to_internal_value(self, data: Any) -> int:  # type: ignore[override]  # the enum's value
        if not isinstance(data, str) or data not in self.mapping:
            self.fail("invalid_choice", choices=", ".join(self.mapping))
        return self.mapping[data]
