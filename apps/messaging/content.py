"""Message content: what a sender may put in each message type, checked once for every transport."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from apps.core.errors import InvalidField
from apps.core.text import storable
from apps.messaging import limits
from apps.messaging.models import MessageType

MEDIA_TYPES = {MessageType.IMAGE, MessageType.AUDIO, MessageType.VIDEO, MessageType.FILE}
SENDABLE_TYPES = {t.value for t in MessageType} - {MessageType.RECALL}


@dataclass(frozen=True)
class Attachment:
    url: str
    name: str = ""
    size: int = 0
    mime_type: str = ""
    md5: str = ""
    width: int = 0
    height: int = 0
    duration_ms: int = 0


@dataclass(frozen=True)
class Location:
    latitude: float
    longitude: float
    title: str = ""


@dataclass(frozen=True)
class MessageContent:
    type: int
    text: str = ""
    attachment: Attachment | None = None
    location: Location | None = None
    custom: str = ""
    ext: str = ""
    # False: store and deliver, but no offline push notification.
    push: bool = True


def _check_text(value: str, cap: int, name: str) -> None:
    """At most ``cap`` characters, and text the database can store."""
    if len(value) > cap:
        raise InvalidField(f"{name} has at most {cap} characters", field=name)
    if not storable(value):
        raise InvalidField(f"{name} may not contain NUL characters or unpaired surrogates", field=name)


def content_to_body(content: MessageContent) -> dict[str, Any]:
    """Check the content against its type and return the JSON stored in Message.body."""
    if content.type not in SENDABLE_TYPES:
        raise InvalidField("type is not a message type a client may send", field="type")
    _check_text(content.ext, limits.EXT_MAX_CHARS, "ext")
    body: dict[str, Any] = {"ext": content.ext} if content.ext else {}
    if not content.push:
        body["push"] = False
    kind = MessageType(content.type)
    if kind in (MessageType.TEXT, MessageType.TIP):
        if not content.text.strip():
            raise InvalidField("text is required and may not be blank", field="text")
        _check_text(content.text, limits.TEXT_MAX_CHARS, "text")
        body["text"] = content.text
    elif kind in MEDIA_TYPES:
        body["attachment"] = _attachment_body(content.attachment)
        if content.text:
            _check_text(content.text, limits.TEXT_MAX_CHARS, "text")
            body["text"] = content.text
    elif kind is MessageType.LOCATION:
        body["location"] = _location_body(content.location)
    elif kind is MessageType.CUSTOM:
        _check_text(content.custom, limits.CUSTOM_MAX_CHARS, "custom")
        try:
            json.loads(content.custom)
        except ValueError:
            raise InvalidField("custom must be a JSON document", field="custom") from None
        body["custom"] = content.custom
    return body


def _attachment_body(attachment: Attachment | None) -> dict[str, Any]:
    if attachment is None or not attachment.url:
        raise InvalidField("attachment.url is required for media messages", field="attachment.url")
    if not attachment.url.startswith(("https://", "http://")):
        raise InvalidField("attachment.url must be an http(s) URL", field="attachment.url")
    _check_text(attachment.url, limits.URL_MAX, "attachment.url")
    _check_text(attachment.name, limits.NAME_MAX, "attachment.name")
    _check_text(attachment.mime_type, limits.MIME_MAX, "attachment.mime_type")
    _check_text(attachment.md5, 32, "attachment.md5")
    for name in ("size", "width", "height", "duration_ms"):
        value = getattr(attachment, name)
        if not isinstance(value, int) or value < 0:
            raise InvalidField(
                f"attachment.{name} must be a non-negative integer", field=f"attachment.{name}"
            )
    return {k: v for k, v in vars(attachment).items() if v not in ("", 0)}


def _location_body(location: Location | None) -> dict[str, Any]:
    if location is None:
        raise InvalidField("location is required for location messages", field="location")
    lat, lon = location.latitude, location.longitude
    if not (math.isfinite(lat) and -90 <= lat <= 90):
        raise InvalidField("location.latitude is -90 to 90", field="location.latitude")
    if not (math.isfinite(lon) and -180 <= lon <= 180):
        raise InvalidField("location.longitude is -180 to 180", field="location.longitude")
    _check_text(location.title, limits.NAME_MAX, "location.title")
    return {"latitude": lat, "longitude": lon, "title": location.title}
