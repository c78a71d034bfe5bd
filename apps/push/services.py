"""Writes on push state: devices, credentials, settings, preferences and mutes."""

from __future__ import annotations

import json
import logging
import zoneinfo
from typing import Any

from django.db import transaction

from apps.core.crypto import encrypt_text
from apps.core.errors import InvalidField
from apps.imusers.models import ImUser
from apps.messaging.conversations import place_for
from apps.messaging.models import ConversationMember
from apps.push.delivery import push_apps_forget
from apps.push.models import Device, PushCredential, PushPreferences, PushSettings
from apps.push.models import Provider as ProviderName
from apps.push.templates import TEMPLATE_FIELDS, check_template
from apps.tenants.models import App

logger = logging.getLogger(__name__)

LOCALE_MAX = 16
DEVICE_ID_MAX = 64
# What the console may show of each provider's credentials (never a private key).
PUBLIC_FIELDS = {
    "apns": ("key_id", "team_id", "bundle_id", "environment"),
    "fcm": ("project_id", "client_email"),
    "webpush": ("vapid_public_key", "subject"),
    "huawei": ("app_id",),
    "xiaomi": ("package_name",),
}


def _provider(name: str) -> Any:
    from apps.push.providers import PROVIDERS

    if name not in ProviderName.values:
        raise InvalidField(f"provider is one of {', '.join(ProviderName.values)}", field="provider")
    return PROVIDERS[name]


@transaction.atomic
def device_register(
    *,
    app: App,
    user: ImUser,
    device_id: str,
    provider: str,
    token: str,
    p256dh: str = "",
    auth: str = "",
    bundle_id: str = "",
    locale: str = "",
) -> Device:
    """Register (or move) a device's push token; a token belongs to one device of one user."""
    from apps.push.providers import DeviceTarget

    client = _provider(provider)
    if not device_id or len(device_id) > DEVICE_ID_MAX:
        raise InvalidField(f"device_id is 1 to {DEVICE_ID_MAX} characters", field="device_id")
    if len(locale) > LOCALE_MAX or len(bundle_id) > 255:
        raise InvalidField("locale is at most 16 characters and bundle_id at most 255", field="locale")
    client.validate_device(
        DeviceTarget(provider=provider, token=token, p256dh=p256dh, auth=auth, bundle_id=bundle_id)
    )
    # The same phone logging in as another account hands its token over: no pushes to the old one.
    Device.objects.filter(app=app, provider=provider, token=token).exclude(
        user=user, device_id=device_id
    ).delete()
    device, _ = Device.objects.update_or_create(
        user=user,
        device_id=device_id,
        defaults={
            "app": app,
            "provider": provider,
            "token": token,
            "p256dh": p256dh,
            "auth": auth,
            "bundle_id": bundle_id,
            "locale": locale,
        },
    )
    logger.info(
        "push device registered", extra={"app_key": app.app_key, "accid": user.accid, "provider": provider}
    )
    return device


def device_unregister(*, user: ImUser, device_id: str) -> bool:
    deleted, _ = Device.objects.filter(user=user, device_id=device_id).delete()
    return deleted > 0


def device_set_foreground(*, user: ImUser, device_id: str, foreground: bool) -> None:
    Device.objects.filter(user=user, device_id=device_id).update(foreground=foreground)


def conversation_set_push_mute(
    *, app: App, user: ImUser, conversation_type: int, target: str, muted: bool
) -> None:
    place = place_for(app=app, user=user, kind=conversation_type, target=target, create=True)
    assert place is not None
    ConversationMember.objects.filter(pk=place.member.pk).update(push_muted=muted)


def preferences_update(
    *,
    user: ImUser,
    push_enabled: bool,
    dnd_enabled: bool,
    dnd_start_minute: int,
    dnd_end_minute: int,
    timezone: str,
) -> PushPreferences:
    for name, minute in (("dnd_start_minute", dnd_start_minute), ("dnd_end_minute", dnd_end_minute)):
        if not 0 <= minute < 24 * 60:
            raise InvalidField(f"{name} is 0 to 1439 (minutes after midnight)", field=name)
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise InvalidField(
            "timezone is an IANA time zone name, e.g. Asia/Shanghai", field="timezone"
        ) from None
    preferences, _ = PushPreferences.objects.update_or_create(
        user=user,
        defaults={
            "push_enabled": push_enabled,
            "dnd_enabled": dnd_enabled,
            "dnd_start_minute": dnd_start_minute,
            "dnd_end_minute": dnd_end_minute,
            "timezone": timezone,
        },
    )
    return preferences


def credentials_set(*, app: App, provider: str, data: dict[str, Any]) -> PushCredential:
    """Check and store a provider's credentials, encrypted; only public fields stay readable."""
    cleaned = _provider(provider).validate_credentials(data)
    summary = {key: cleaned[key] for key in PUBLIC_FIELDS[provider] if key in cleaned}
    credential, _ = PushCredential.objects.update_or_create(
        app=app,
        provider=provider,
        defaults={"ciphertext": encrypt_text(json.dumps(cleaned)), "summary": summary},
    )
    logger.info("push credentials set", extra={"app_key": app.app_key, "provider": provider})
    # This process at once; gateway processes within PUSH_APPS_TTL_SECONDS.
    push_apps_forget(app_id=app.pk)
    return credential


def credentials_delete(*, app: App, provider: str) -> None:
    PushCredential.objects.filter(app=app, provider=provider).delete()
    push_apps_forget(app_id=app.pk)


def webpush_credentials_generate(*, app: App, subject: str) -> PushCredential:
    """A fresh VAPID key pair for the app's Web Push (the console's "generate" button)."""
    from apps.push.providers.webpush import generate_vapid_keypair

    if not subject.startswith(("mailto:", "https://")):
        raise InvalidField("subject is a mailto: or https: URL to reach you at", field="subject")
    private_pem, public_key = generate_vapid_keypair()
    data = {"vapid_private_key": private_pem, "vapid_public_key": public_key, "subject": subject}
    return credentials_set(app=app, provider=ProviderName.WEBPUSH, data=data)


def settings_for(*, app: App) -> PushSettings:
    settings, _ = PushSettings.objects.get_or_create(app=app)
    return settings


def settings_update(*, app: App, **values: Any) -> PushSettings:
    settings = settings_for(app=app)
    allowed = {
        "p2p_title", "p2p_body", "team_title", "team_body",
        "show_preview", "mute_mobile_while_desktop_online", "rate_per_second",
    }  # fmt: skip
    unknown = set(values) - allowed
    if unknown:
        raise InvalidField(f"unknown setting {sorted(unknown)[0]}", field=sorted(unknown)[0])
    for name in TEMPLATE_FIELDS:
        if name in values:
            check_template(str(values[name]), field=name)
    if "rate_per_second" in values and not 1 <= int(values["rate_per_second"]) <= 100_000:
        raise InvalidField("rate_per_second is 1 to 100,000", field="rate_per_second")
    for name, value in values.items():
        setattr(settings, name, value)
    settings.save()
    return settings
