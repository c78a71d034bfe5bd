"""Writes on apps (tenants)."""

from __future__ import annotations

import logging
import secrets

from django.db import transaction
from django.utils import timezone

from apps.accounts.models import Developer
from apps.core.crypto import encrypt_text
from apps.core.errors import Conflict, InvalidField
from apps.tenants import limits
from apps.tenants.models import App, MultiDevicePolicy

logger = logging.getLogger(__name__)


def _new_app_key() -> str:
    return secrets.token_hex(16)


def _new_secret() -> str:
    return secrets.token_hex(16)


def _clean_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise InvalidField("An app needs a name.", field="name")
    if len(name) > limits.APP_NAME_MAX_LENGTH:
        raise InvalidField(f"An app name has at most {limits.APP_NAME_MAX_LENGTH} characters.", field="name")
    return name


@transaction.atomic
def app_create(*, owner: Developer, name: str) -> App:
    name = _clean_name(name)
    # Lock the owner row so that two concurrent creates cannot both pass the cap.
    Developer.objects.select_for_update().filter(pk=owner.pk).first()
    if App.objects.filter(owner=owner).count() >= limits.MAX_APPS_PER_DEVELOPER:
        raise Conflict(
            f"A developer may own at most {limits.MAX_APPS_PER_DEVELOPER} apps.", code="app_limit_reached"
        )
    app = App.objects.create(
        owner=owner,
        name=name,
        app_key=_new_app_key(),
        secret_ciphertext=encrypt_text(_new_secret()),
        secret_rotated_at=timezone.now(),
    )
    logger.info("app created", extra={"app_key": app.app_key, "owner_id": owner.pk})
    return app


def app_rename(*, app: App, name: str) -> App:
    app.name = _clean_name(name)
    app.save(update_fields=["name", "updated_at"])
    return app


def app_rotate_secret(*, app: App) -> str:
    """Replace the AppSecret. The old one fails from the next request on: nothing caches it."""
    secret = _new_secret()
    app.secret_ciphertext = encrypt_text(secret)
    app.secret_rotated_at = timezone.now()
    app.save(update_fields=["secret_ciphertext", "secret_rotated_at", "updated_at"])
    logger.info("app secret rotated", extra={"app_key": app.app_key})
    return secret


def app_update_settings(
    *,
    app: App,
    multi_device_policy: str,
    webhook_url: str,
    message_retention_days: int,
    api_rate_limit: int | None,
) -> App:
    if multi_device_policy not in MultiDevicePolicy.values:
        raise InvalidField("Unknown multi-device policy.", field="multi_device_policy")
    if not limits.RETENTION_DAYS_MIN <= message_retention_days <= limits.RETENTION_DAYS_MAX:
        raise InvalidField(
            f"Retention is {limits.RETENTION_DAYS_MIN} to {limits.RETENTION_DAYS_MAX} days.",
            field="message_retention_days",
        )
    if api_rate_limit is not None and not 1 <= api_rate_limit <= limits.API_RATE_LIMIT_MAX:
        raise InvalidField(
            f"The rate limit is 1 to {limits.API_RATE_LIMIT_MAX} requests per second.",
            field="api_rate_limit",
        )
    if webhook_url and not webhook_url.startswith(("https://", "http://")):
        raise InvalidField("A webhook URL starts with https:// or http://.", field="webhook_url")
    app.multi_device_policy = multi_device_policy
    app.webhook_url = webhook_url
    app.message_retention_days = message_retention_days
    app.api_rate_limit = api_rate_limit
    app.save()
    return app


def app_delete(*, app: App) -> None:
    logger.info("app deleted", extra={"app_key": app.app_key})
    app.delete()
