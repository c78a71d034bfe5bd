"""Push provider clients (APNs, FCM, Web Push, Huawei, Xiaomi): docs/push-providers.md.

from apps.push.providers import PROVIDERS, Notification, DeviceTarget
result = PROVIDERS[device.provider].send(notification=..., device=..., credentials=...)
"""

from __future__ import annotations

from apps.push.providers.base import (
    DEAD_TOKEN,
    DELIVERED,
    FAILED,
    OUTCOMES,
    RETRY,
    DeviceTarget,
    Notification,
    Provider,
    ProviderResult,
)
from apps.push.providers.registry import PROVIDERS
from apps.push.providers.tokens import clear_all as clear_token_caches
from apps.push.providers.transport import close_clients

__all__ = [
    "DEAD_TOKEN",
    "DELIVERED",
    "FAILED",
    "OUTCOMES",
    "PROVIDERS",
    "RETRY",
    "DeviceTarget",
    "Notification",
    "Provider",
    "ProviderResult",
    "clear_token_caches",
    "close_clients",
]
