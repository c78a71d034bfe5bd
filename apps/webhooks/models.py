"""Webhooks: copies of an app's events POSTed to its server, and the log of every attempt.

An event is stored once (``WebhookEvent``, its UUID is the id receivers dedupe on) together with a
delivery (``WebhookDelivery``) in the transaction that produced it. The database, not the broker,
is the source of truth: a Celery task sends a delivery, and a periodic sweeper re-enqueues any
pending delivery whose task was lost.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone

from apps.tenants.models import App


class EventType(models.TextChoices):
    MESSAGE_P2P = "message.p2p", "One-to-one messages"
    MESSAGE_TEAM = "message.team", "Team messages"
    MESSAGE_RECALL = "message.recall", "Recalls"
    SESSION_LOGIN = "session.login", "Logins"
    SESSION_LOGOUT = "session.logout", "Logouts"
    TEAM_CHANGED = "team.changed", "Team changes"


def all_event_types() -> list[str]:
    return list(EventType.values)


# Bounds of the before-delivery callback's timeout (milliseconds).
CALLBACK_TIMEOUT_MIN_MS = 100
CALLBACK_TIMEOUT_MAX_MS = 2000
CALLBACK_TIMEOUT_DEFAULT_MS = 2000
URL_MAX_LENGTH = 500


class WebhookConfig(models.Model):
    """What an app wants copied to ``App.webhook_url``, and its before-delivery callback.

    An app without a row behaves as the defaults: every event type, enabled, no callback.
    """

    app = models.OneToOneField(App, on_delete=models.CASCADE, related_name="webhook_config")
    events = models.JSONField(default=all_event_types)
    enabled = models.BooleanField(default=True)
    callback_url = models.URLField(max_length=URL_MAX_LENGTH, blank=True, default="")
    callback_fail_open = models.BooleanField(default=True)
    callback_timeout_ms = models.PositiveIntegerField(default=CALLBACK_TIMEOUT_DEFAULT_MS)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"webhook config of app {self.app_id}"

    def wants(self, event_type: str) -> bool:
        return self.enabled and event_type in self.events


class WebhookEvent(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="+")
    type = models.CharField(max_length=32, choices=EventType.choices)
    payload = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["app", "created_at"]), models.Index(fields=["created_at"])]

    def __str__(self) -> str:
        return f"{self.type} {self.id}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed (gave up)"


class WebhookDelivery(models.Model):
    """One event on its way to the app's webhook URL: retried until a 2xx or until it expires."""

    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="+")
    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    # The URL of the latest attempt (each attempt posts to the app's current webhook URL).
    url = models.URLField(max_length=URL_MAX_LENGTH)
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # No attempt is scheduled after this; a failure then gives up.
    expires_at = models.DateTimeField()
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True, default="")
    last_response = models.TextField(blank=True, default="")
    delivered_at = models.DateTimeField(null=True, blank=True)
    # The worker sending it holds it until lease_until; only the holder of lease_token records.
    lease_token = models.UUIDField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    # When the sweeper last re-enqueued it.
    swept_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["status", "next_attempt_at"]),
            models.Index(fields=["app", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"delivery {self.pk} of {self.event_id} ({self.status})"


class WebhookAttempt(models.Model):
    """One POST of a delivery, for the console's log."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ("started_at", "id")

    def __str__(self) -> str:
        return f"attempt {self.pk} of delivery {self.delivery_id}"
