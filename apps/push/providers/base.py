"""What every push provider client shares: the value types, the `Provider` protocol, outcomes.

A provider turns one `Notification` for one `DeviceTarget` into one HTTP request to the vendor's
push service and maps the answer to a `ProviderResult`. `send` never raises for network or HTTP
trouble: a timeout, a refused connection, a 5xx or a 429 is ``retry``; a token the service no
longer knows is ``dead_token``; anything that will not succeed by trying again (bad credentials,
a payload the service refuses) is ``failed``. Only programming errors raise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

DELIVERED = "delivered"
RETRY = "retry"  # transient: 429, 5xx, timeouts, network errors; try again later
# the device token/subscription is gone: remove the device
DEAD_TOKEN = "dead_token"  # noqa: S105 (an outcome, not a secret)
FAILED = "failed"  # permanent for this notification: bad credentials, a refused payload
OUTCOMES = frozenset({DELIVERED, RETRY, DEAD_TOKEN, FAILED})

PROVIDER_NAMES = ("apns", "fcm", "webpush", "huawei", "xiaomi")


@dataclass(frozen=True)
class Notification:
    title: str
    body: str
    badge: int | None = None
    sound: str = "default"
    # APNs apns-collapse-id / FCM collapse_key / Web Push Topic / Huawei tag / Xiaomi notify_id
    collapse_id: str = ""
    thread_id: str = ""  # APNs thread-id; FCM android tag
    data: Mapping[str, str] = field(default_factory=dict)  # custom payload (string values)
    ttl: int = 86400  # seconds
    priority: str = "high"  # "high" | "normal"


@dataclass(frozen=True)
class DeviceTarget:
    provider: str  # "apns" | "fcm" | "webpush" | "huawei" | "xiaomi"
    token: str  # device token / registration id; for webpush the subscription endpoint
    p256dh: str = ""  # webpush subscription keys (base64url)
    auth: str = ""
    bundle_id: str = ""  # iOS bundle id / Android package name, when the device says


@dataclass(frozen=True)
class ProviderResult:
    outcome: str  # DELIVERED | RETRY | DEAD_TOKEN | FAILED
    status: int  # HTTP status, 0 when there was no response
    detail: str = ""  # the provider's reason, e.g. "Unregistered", "UNREGISTERED", "QUOTA_EXCEEDED"
    retry_after: float | None = None  # seconds, from Retry-After when given
    response: str = ""  # the raw response body, truncated to RESPONSE_BODY_LIMIT characters


class Provider(Protocol):
    """One push service. Instances are stateless and shared; caches live at module level."""

    name: str

    def send(
        self, *, notification: Notification, device: DeviceTarget, credentials: Mapping[str, Any]
    ) -> ProviderResult:
        """Deliver one notification to one device (synchronous, thread-safe)."""
        ...

    def validate_credentials(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """Check what a developer uploaded; return the normalised credentials to store.

        Raises `apps.core.errors.InvalidField` naming the field at fault.
        """
        ...

    def validate_device(self, device: DeviceTarget) -> None:
        """Raise `apps.core.errors.InvalidField` when the token/subscription is malformed."""
        ...
