"""Offline push: devices, per-app provider credentials and settings, per-user preferences, and
a record of every notification attempt (which also makes sending idempotent)."""

from __future__ import annotations

from django.db import models

from apps.imusers.models import ImUser
from apps.messaging.models import Message
from apps.tenants.models import App


class Provider(models.TextChoices):
    APNS = "apns", "Apple Push Notification service"
    FCM = "fcm", "Firebase Cloud Messaging"
    WEBPUSH = "webpush", "Web Push"
    HUAWEI = "huawei", "Huawei Push Kit"
    XIAOMI = "xiaomi", "Xiaomi Mi Push"


class Device(models.Model):
    """A push registration: one per (user, device id); the token says where to push."""

    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(ImUser, on_delete=models.CASCADE, related_name="push_devices")
    device_id = models.CharField(max_length=64)
    provider = models.CharField(max_length=16, choices=Provider.choices)
    # Device token / registration id; for Web Push the subscription endpoint.
    token = models.CharField(max_length=2048)
    p256dh = models.CharField(max_length=128, blank=True, default="")
    auth = models.CharField(max_length=64, blank=True, default="")
    bundle_id = models.CharField(max_length=255, blank=True, default="")
    locale = models.CharField(max_length=16, blank=True, default="")
    # Reported by the SDK: an app in the foreground with a live session needs no push.
    foreground = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "device_id"], name="push_device_user_device_unique")
        ]
        indexes = [models.Index(fields=["app", "user"])]

    def __str__(self) -> str:
        return f"{self.provider} device {self.device_id} of {self.user_id}"


class PushCredential(models.Model):
    """One provider's credentials for one app, encrypted at rest; ``summary`` is what may be shown."""

    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="push_credentials")
    provider = models.CharField(max_length=16, choices=Provider.choices)
    ciphertext = models.TextField()
    summary = models.JSONField(default=dict)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["app", "provider"], name="push_credential_app_provider_unique")
        ]

    def __str__(self) -> str:
        return f"{self.provider} credentials of app {self.app_id}"


class PushSettings(models.Model):
    """How an app's notifications read and how fast they may go."""

    app = models.OneToOneField(App, on_delete=models.CASCADE, related_name="push_settings")
    # Placeholders: {sender}, {team}, {preview}.
    p2p_title = models.CharField(max_length=128, default="{sender}")
    p2p_body = models.CharField(max_length=256, default="{preview}")
    team_title = models.CharField(max_length=128, default="{team}")
    team_body = models.CharField(max_length=256, default="{sender}: {preview}")
    show_preview = models.BooleanField(default=True)
    # Yunxin's "no mobile push while a desktop is online".
    mute_mobile_while_desktop_online = models.BooleanField(default=True)
    rate_per_second = models.PositiveIntegerField(default=1000)

    def __str__(self) -> str:
        return f"push settings of app {self.app_id}"


class PushPreferences(models.Model):
    """A user's do-not-disturb window, in their own time zone."""

    user = models.OneToOneField(ImUser, on_delete=models.CASCADE, related_name="push_preferences")
    push_enabled = models.BooleanField(default=True)
    dnd_enabled = models.BooleanField(default=False)
    dnd_start_minute = models.PositiveSmallIntegerField(default=22 * 60)
    dnd_end_minute = models.PositiveSmallIntegerField(default=8 * 60)
    timezone = models.CharField(max_length=64, default="UTC")

    def __str__(self) -> str:
        return f"push preferences of {self.user_id}"


class AttemptStatus(models.TextChoices):
    PENDING = "pending"
    SENDING = "sending"
    DELIVERED = "delivered"
    RETRY = "retry"
    DEAD_TOKEN = "dead_token"  # noqa: S105 - a status name, not a secret
    FAILED = "failed"


class PushAttempt(models.Model):
    """One notification of one message to one device; unique, so a retried task never sends twice."""

    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="+")
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="+")
    device = models.ForeignKey(Device, null=True, on_delete=models.SET_NULL, related_name="+")
    provider = models.CharField(max_length=16, choices=Provider.choices)
    status = models.CharField(max_length=16, choices=AttemptStatus.choices, default=AttemptStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    status_code = models.PositiveSmallIntegerField(default=0)
    detail = models.CharField(max_length=255, blank=True, default="")
    response = models.TextField(blank=True, default="")
    badge = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["message", "device"], name="push_attempt_message_device_unique")
        ]
        indexes = [
            models.Index(fields=["app", "created_at"]),
            models.Index(fields=["app", "provider", "status"]),
        ]

    def __str__(self) -> str:
        return f"push of message {self.message_id} to device {self.device_id}: {self.status}"
