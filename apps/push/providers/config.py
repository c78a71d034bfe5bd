"""Every constant of the push provider clients, and the settings they read (docs/push-providers.md).

Settings are read from ``settings.IMCLOUD`` at call time with ``.get(name, default)``, so the
clients work before the keys are added to imcloud/settings.py and tests can override them.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from django.conf import settings

# --- HTTP -----------------------------------------------------------------------------------------
# Seconds to open a TCP (+TLS) connection.
CONNECT_TIMEOUT = 5.0
# Seconds for a whole send() from its start: an OAuth token fetch, the request, and a re-send after
# a 401 all share this budget (each request gets the time left; httpx's own timeouts are per
# operation, so one slow read cannot exceed what is left either).
TOTAL_TIMEOUT = 10.0
# A response body kept in ProviderResult.response is cut to this many characters.
RESPONSE_BODY_LIMIT = 2000
# One httpx.Client per origin (scheme://host:port) is cached per process; at most this many are
# kept (Web Push endpoints name arbitrary origins), the least recently used is closed beyond it.
CLIENT_CACHE_SIZE = 256
# Connections per origin, and how long an idle one is kept open (APNs wants them long-lived).
MAX_CONNECTIONS_PER_ORIGIN = 20
KEEPALIVE_EXPIRY = 600.0
USER_AGENT = "imcloud-push/1"

# --- OAuth access tokens (FCM, Huawei) ------------------------------------------------------------
# A cached access token is replaced this many seconds before it expires (or at half its lifetime
# when that is shorter).
OAUTH_REFRESH_MARGIN = 300

# --- APNs -----------------------------------------------------------------------------------------
APNS_DEFAULT_PRODUCTION_URL = "https://api.push.apple.com"
APNS_DEFAULT_SANDBOX_URL = "https://api.sandbox.push.apple.com"
# The provider JWT is re-signed once it is this old (Apple refuses tokens older than one hour) ...
APNS_JWT_REFRESH_AFTER = 50 * 60
# ... and never sooner than this after the last signing (Apple answers TooManyProviderTokenUpdates).
APNS_JWT_MIN_INTERVAL = 20 * 60
# Every worker process uses the same JWT per key, kept in Django's cache (Redis) with its iat; one
# process signs at a time under a lock held at most this many seconds ...
APNS_JWT_SIGN_LOCK_SECONDS = 10
# ... and while it signs, the others keep using the previous JWT if it is younger than this
# (Apple accepts a JWT for an hour), or wait for the new one in steps of this many seconds.
APNS_JWT_USABLE_FOR = 55 * 60
APNS_JWT_WAIT_STEP = 0.05
# A process looks the shared JWT up again at least this often (one cache read per process).
APNS_JWT_RECHECK_SECONDS = 60
APNS_MAX_PAYLOAD_BYTES = 4096
APNS_MAX_COLLAPSE_ID_BYTES = 64
APNS_TOKEN_MIN_HEX = 64
APNS_TOKEN_MAX_HEX = 200

# --- FCM HTTP v1 ----------------------------------------------------------------------------------
FCM_DEFAULT_URL = "https://fcm.googleapis.com"
FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
FCM_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
FCM_ASSERTION_LIFETIME = 3600
FCM_MAX_TTL = 28 * 86400
FCM_TOKEN_MIN_LENGTH = 32
FCM_TOKEN_MAX_LENGTH = 4096

# --- Web Push (RFC 8030 / 8291 / 8292) ------------------------------------------------------------
WEBPUSH_RECORD_SIZE = 4096
# Push services must accept 4096-byte bodies (RFC 8030 §7.2); the header takes 86 bytes (salt 16,
# rs 4, idlen 1, key 65), the AEAD tag 16 and the padding delimiter 1: 3993 bytes of plaintext
# (RFC 8291 §4). The whole message is one record.
WEBPUSH_MAX_BODY = 4096
WEBPUSH_MAX_PLAINTEXT = WEBPUSH_MAX_BODY - 86 - 16 - 1
# VAPID JWT lifetime (RFC 8292 allows at most 24 h); a cached one is re-signed an hour before exp.
WEBPUSH_JWT_LIFETIME = 12 * 3600
WEBPUSH_JWT_REUSE_MARGIN = 3600
WEBPUSH_TOPIC_MAX = 32
WEBPUSH_ENDPOINT_MAX_LENGTH = 2048

# --- Huawei Push Kit ------------------------------------------------------------------------------
HUAWEI_DEFAULT_URL = "https://push-api.cloud.huawei.com"
HUAWEI_DEFAULT_TOKEN_URL = "https://oauth-login.cloud.huawei.com/oauth2/v3/token"  # noqa: S105
HUAWEI_MAX_TTL = 15 * 86400
HUAWEI_TOKEN_MIN_LENGTH = 32
HUAWEI_TOKEN_MAX_LENGTH = 512

# --- Xiaomi Mi Push -------------------------------------------------------------------------------
XIAOMI_DEFAULT_URL = "https://api.xmpush.xiaomi.com"
XIAOMI_MAX_TTL = 14 * 86400
XIAOMI_REGID_MIN_LENGTH = 16
XIAOMI_REGID_MAX_LENGTH = 256


def setting_url(name: str, default: str) -> str:
    """A base URL from ``settings.IMCLOUD`` without its trailing slash."""
    value = settings.IMCLOUD.get(name, default)
    if not isinstance(value, str) or not value:
        raise TypeError(f"IMCLOUD[{name!r}] must be a non-empty str")
    return value.rstrip("/")


def allow_private_endpoints() -> bool:
    """Whether URLs that come from developers or devices may name loopback/private addresses.

    Off by default: a Web Push endpoint (sent by any end user's browser) or a service account's
    token_uri would otherwise make the workers POST into the private network. Tests and local
    benchmarks turn it on with ``IMCLOUD["PUSH_ALLOW_PRIVATE_ENDPOINTS"] = True``.
    """
    return bool(settings.IMCLOUD.get("PUSH_ALLOW_PRIVATE_ENDPOINTS", False))


def is_private_host(host: str) -> bool:
    """True for localhost names and loopback, private, link-local or unspecified IP literals."""
    name = host.strip("[]").lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_unspecified
        or address.is_reserved
        or address.is_multicast
    )


def external_url_problem(url: str) -> str | None:
    """Why ``url`` may not be called (scheme or private host), or None when it may."""
    parts = urlsplit(url)
    if parts.scheme not in {"https", "http"} or not parts.hostname:
        return "must be an https:// (or http://) URL"
    if parts.username or parts.password:
        return "must not carry a user name or password"
    if not allow_private_endpoints() and is_private_host(parts.hostname):
        return "must not name a local or private address"
    return None
