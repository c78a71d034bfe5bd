"""Local push services for the provider tests: started once per session, reset for every test."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import override_settings

from apps.push.providers import PROVIDERS, DeviceTarget, clear_token_caches, close_clients
from apps.push.providers.transport import CLOCK
from tests.apps.push.providers.common import APNS_TOKEN, FCM_TOKEN, HUAWEI_TOKEN, XIAOMI_REGID, Case
from tests.push_servers.apns import ApnsServer
from tests.push_servers.base import PushServer
from tests.push_servers.fcm import FcmServer
from tests.push_servers.huawei import HuaweiServer
from tests.push_servers.webpush import WebPushServer
from tests.push_servers.xiaomi import XiaomiServer


@pytest.fixture(scope="session")
def apns_server() -> Iterator[ApnsServer]:
    server = ApnsServer()
    server.start()
    yield server
    close_clients()
    server.stop()


@pytest.fixture(scope="session")
def fcm_server() -> Iterator[FcmServer]:
    server = FcmServer()
    server.start()
    yield server
    close_clients()
    server.stop()


@pytest.fixture(scope="session")
def webpush_server() -> Iterator[WebPushServer]:
    server = WebPushServer()
    server.start()
    yield server
    close_clients()
    server.stop()


@pytest.fixture(scope="session")
def huawei_server() -> Iterator[HuaweiServer]:
    server = HuaweiServer()
    server.start()
    yield server
    close_clients()
    server.stop()


@pytest.fixture(scope="session")
def xiaomi_server() -> Iterator[XiaomiServer]:
    server = XiaomiServer()
    server.start()
    yield server
    close_clients()
    server.stop()


@pytest.fixture(scope="session")
def servers(
    apns_server: ApnsServer,
    fcm_server: FcmServer,
    webpush_server: WebPushServer,
    huawei_server: HuaweiServer,
    xiaomi_server: XiaomiServer,
) -> dict[str, PushServer]:
    return {
        "apns": apns_server,
        "fcm": fcm_server,
        "webpush": webpush_server,
        "huawei": huawei_server,
        "xiaomi": xiaomi_server,
    }


@pytest.fixture(autouse=True)
def push_env(settings: Any, servers: dict[str, PushServer], huawei_server: HuaweiServer) -> Iterator[None]:
    """Point every provider at its local server; fresh caches, clients, clock and server state."""
    settings.IMCLOUD = {
        **settings.IMCLOUD,
        "PUSH_APNS_SANDBOX_URL": servers["apns"].url,
        "PUSH_APNS_PRODUCTION_URL": servers["apns"].url,
        "PUSH_FCM_URL": servers["fcm"].url,
        "PUSH_HUAWEI_URL": huawei_server.url,
        "PUSH_HUAWEI_TOKEN_URL": huawei_server.token_url,
        "PUSH_XIAOMI_URL": servers["xiaomi"].url,
        "PUSH_ALLOW_PRIVATE_ENDPOINTS": True,
    }
    for server in servers.values():
        server.reset()
    clear_token_caches()
    close_clients()
    CLOCK.offset = 0.0
    yield
    CLOCK.offset = 0.0
    close_clients()
    assert [error for server in servers.values() for error in server.errors] == []


# --- credentials (registered once per session; validated as the console would) --------------------
@pytest.fixture(scope="session")
def apns_credentials(apns_server: ApnsServer) -> dict[str, Any]:
    apns_server.allow_topic("com.example.other")
    return PROVIDERS["apns"].validate_credentials(apns_server.new_team_key())


@pytest.fixture(scope="session")
def fcm_credentials(fcm_server: FcmServer) -> dict[str, Any]:
    # Session fixtures run before push_env: allow the local token_uri for this validation too.
    with override_settings(IMCLOUD={**django_settings.IMCLOUD, "PUSH_ALLOW_PRIVATE_ENDPOINTS": True}):
        return PROVIDERS["fcm"].validate_credentials({"service_account": fcm_server.new_service_account()})


@pytest.fixture(scope="session")
def vapid_credentials() -> dict[str, Any]:
    from apps.push.providers.webpush import generate_vapid_keypair

    private_pem, public_key = generate_vapid_keypair()
    return PROVIDERS["webpush"].validate_credentials(
        {
            "vapid_private_key": private_pem,
            "vapid_public_key": public_key,
            "subject": "mailto:push@example.com",
        }
    )


@pytest.fixture(scope="session")
def huawei_credentials(huawei_server: HuaweiServer) -> dict[str, Any]:
    return PROVIDERS["huawei"].validate_credentials(
        {**huawei_server.register_app(), "badge_class": "com.example.app.MainActivity"}
    )


@pytest.fixture(scope="session")
def xiaomi_credentials(xiaomi_server: XiaomiServer) -> dict[str, Any]:
    return PROVIDERS["xiaomi"].validate_credentials(xiaomi_server.register_app())


# --- one ready-to-send case per provider, for the tests that hold for all of them ------------------
@pytest.fixture
def cases(
    servers: dict[str, PushServer],
    webpush_server: WebPushServer,
    apns_credentials: dict[str, Any],
    fcm_credentials: dict[str, Any],
    vapid_credentials: dict[str, Any],
    huawei_credentials: dict[str, Any],
    xiaomi_credentials: dict[str, Any],
) -> dict[str, Case]:
    subscription = webpush_server.subscribe(vapid_credentials["vapid_public_key"])
    webpush_device = DeviceTarget(
        "webpush", subscription.endpoint, p256dh=subscription.p256dh, auth=subscription.auth
    )
    return {
        "apns": Case(
            "apns",
            PROVIDERS["apns"],
            DeviceTarget("apns", APNS_TOKEN),
            apns_credentials,
            servers["apns"],
            APNS_TOKEN,
            lambda url: ({"PUSH_APNS_SANDBOX_URL": url}, DeviceTarget("apns", APNS_TOKEN)),
        ),
        "fcm": Case(
            "fcm",
            PROVIDERS["fcm"],
            DeviceTarget("fcm", FCM_TOKEN),
            fcm_credentials,
            servers["fcm"],
            FCM_TOKEN,
            lambda url: ({"PUSH_FCM_URL": url}, DeviceTarget("fcm", FCM_TOKEN)),
        ),
        "webpush": Case(
            "webpush",
            PROVIDERS["webpush"],
            webpush_device,
            vapid_credentials,
            webpush_server,
            subscription.id,
            lambda url: ({}, replace(webpush_device, token=f"{url}/wpush/{subscription.id}")),
        ),
        "huawei": Case(
            "huawei",
            PROVIDERS["huawei"],
            DeviceTarget("huawei", HUAWEI_TOKEN),
            huawei_credentials,
            servers["huawei"],
            HUAWEI_TOKEN,
            lambda url: ({"PUSH_HUAWEI_URL": url}, DeviceTarget("huawei", HUAWEI_TOKEN)),
        ),
        "xiaomi": Case(
            "xiaomi",
            PROVIDERS["xiaomi"],
            DeviceTarget("xiaomi", XIAOMI_REGID),
            xiaomi_credentials,
            servers["xiaomi"],
            XIAOMI_REGID,
            lambda url: ({"PUSH_XIAOMI_URL": url}, DeviceTarget("xiaomi", XIAOMI_REGID)),
        ),
    }


@pytest.fixture
def closed_port() -> int:
    """A local port nothing listens on (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
