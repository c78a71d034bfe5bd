"""Device tokens and the per-provider test case shared by the provider tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from apps.push.providers import PROVIDERS, DeviceTarget, Notification, Provider, ProviderResult
from tests.push_servers.base import PushServer

# Syntactically valid for their providers.
APNS_TOKEN = "a1" * 32
FCM_TOKEN = "fcm-token:APA91b" + "x" * 140
HUAWEI_TOKEN = "IQAAAACy0kdmAADOmVFyhOYMAF3yB5nhMTxlQ0v" + "A" * 90
XIAOMI_REGID = "xm/regid+0123456789abcdefghijklmnop="
APNS_DEVICE = DeviceTarget("apns", APNS_TOKEN)


def apns_send(
    credentials: dict[str, Any], notification: Notification | None = None, device: DeviceTarget = APNS_DEVICE
) -> ProviderResult:
    """One notification through the project's APNs client (to whichever double the settings name)."""
    return PROVIDERS["apns"].send(
        notification=notification or Notification(title="Hi", body="Hello"),
        device=device,
        credentials=credentials,
    )


@dataclass(frozen=True)
class Case:
    name: str
    provider: Provider
    device: DeviceTarget
    credentials: dict[str, Any]
    server: PushServer
    key: str  # what the server scripts errors/delays by (token, regid or subscription id)
    # Given another base URL: the IMCLOUD changes and the device that make the send go there.
    point_at: Callable[[str], tuple[dict[str, str], DeviceTarget]]
