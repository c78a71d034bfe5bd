"""The providers by name: ``PROVIDERS["apns"].send(...)``."""

from __future__ import annotations

from apps.push.providers.apns import ApnsProvider
from apps.push.providers.base import Provider
from apps.push.providers.fcm import FcmProvider
from apps.push.providers.huawei import HuaweiProvider
from apps.push.providers.webpush import WebPushProvider
from apps.push.providers.xiaomi import XiaomiProvider

PROVIDERS: dict[str, Provider] = {
    provider.name: provider
    for provider in (ApnsProvider(), FcmProvider(), WebPushProvider(), HuaweiProvider(), XiaomiProvider())
}
