"""Apps: the tenants of imcloud. Every other row (end users, and later messages, teams, devices,
push credentials, webhooks) belongs to exactly one app and is only ever read through it."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from apps.core.conf import setting_int
from apps.core.crypto import decrypt_text


class MultiDevicePolicy(models.TextChoices):
    SINGLE = "single", "One device at a time"
    DESKTOP_MOBILE = "desktop_mobile", "One desktop and one mobile"
    ALL = "all", "All devices (up to 10)"


class App(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="apps")
    name = models.CharField(max_length=64)
    app_key = models.CharField(max_length=32, unique=True)
    secret_ciphertext = models.TextField()
    secret_rotated_at = models.DateTimeField()

    multi_device_policy = models.CharField(
        max_length=16, choices=MultiDevicePolicy.choices, default=MultiDevicePolicy.ALL
    )
    webhook_url = models.URLField(max_length=500, blank=True, default="")
    message_retention_days = models.PositiveIntegerField(default=30)
    # Seconds after sending during which a message may be recalled.
    recall_window_seconds = models.PositiveIntegerField(default=120)
    # Requests per second on the server API; null means the service-wide default.
    api_rate_limit = models.PositiveIntegerField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("created_at", "id")
        indexes = [models.Index(fields=["owner", "created_at"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.app_key})"

    @property
    def secret(self) -> str:
        return decrypt_text(self.secret_ciphertext)

    @property
    def effective_api_rate_limit(self) -> int:
        return self.api_rate_limit or setting_int("API_RATE_LIMIT_DEFAULT")
