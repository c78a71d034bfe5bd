"""Django settings for imcloud.

Every value that varies between machines comes from the environment, read here and nowhere else.
With no DATABASE_URL / REDIS_URL the project runs on embedded defaults (SQLite, the in-memory
channel layer, a filesystem Celery broker) so that the quick start works on a bare machine.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import dj_database_url

from imcloud.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("IMCLOUD_DATA_DIR") or BASE_DIR / ".data")
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    """The configured key, or one generated once per data dir so that sessions survive restarts."""
    configured = env_str("IMCLOUD_SECRET_KEY")
    if configured:
        return configured
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("IMCLOUD_DEBUG", False)
ALLOWED_HOSTS = env_list("IMCLOUD_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("IMCLOUD_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "apps.core",
    "apps.accounts",
    "apps.tenants",
    "apps.imusers",
    "apps.messaging",
    "apps.teams",
    "apps.webhooks",
    "apps.push",
    "apps.api",
    "apps.console",
    "apps.gateway",
    "apps.webchat",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "imcloud.urls"
ASGI_APPLICATION = "imcloud.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL,
            # Reused connections: the gateway runs all its database work on one thread per process.
            conn_max_age=env_int("IMCLOUD_DB_CONN_MAX_AGE", 60, minimum=0),
            conn_health_checks=True,
        )
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(DATA_DIR / "imcloud.sqlite3"),
            "OPTIONS": {
                # IMMEDIATE avoids "database is locked" upgrades when daphne and the worker write.
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: channel layer, cache (nonces, rate limits), Celery broker ------------------------------
REDIS_URL = env_str("REDIS_URL")
# Prefix of every Redis key and channel we create, so several deployments (or test runs) can
# share one Redis database.
REDIS_NAMESPACE = env_str("IMCLOUD_REDIS_NAMESPACE", "imcloud")
CHANNEL_LAYERS: dict[str, Any]
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": REDIS_NAMESPACE},
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": REDIS_NAMESPACE,
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    # One daphne process in the embedded quick start, so a per-process cache is coherent enough.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or REDIS_URL or "filesystem://"
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, Any] = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = DATA_DIR / "broker"
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
# Several deployments (or concurrent test stacks) may share one broker: each names its own queue.
CELERY_TASK_DEFAULT_QUEUE = env_str("IMCLOUD_CELERY_QUEUE", "celery")
CELERY_TASK_ALWAYS_EAGER = env_bool("IMCLOUD_CELERY_EAGER", False)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 4
CELERY_TASK_IGNORE_RESULT = True
# Celery's Django fix-up closes the database connections before and after every task unless this
# is set: a new PostgreSQL backend per task. Workers keep them instead, and Django's own per-request
# housekeeping (CONN_MAX_AGE, health check) runs after each task (imcloud/celery.py).
CELERY_DB_REUSE_MAX = 1_000_000_000
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Periodic sweeps: the broker is not the source of truth, so work it lost is found in the database.
CELERY_BEAT_SCHEDULE = {
    "push-sweep": {"task": "push.sweep", "schedule": 60.0},
    "webhooks-sweep": {"task": "webhooks.sweep", "schedule": 60.0},
}

# --- Auth and the developer console ---------------------------------------------------------------
AUTH_USER_MODEL = "accounts.Developer"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "console:login"
LOGIN_REDIRECT_URL = "console:app_list"
LOGOUT_REDIRECT_URL = "console:login"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("IMCLOUD_SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

EMAIL_BACKEND = env_str("IMCLOUD_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("IMCLOUD_EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("IMCLOUD_EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("IMCLOUD_EMAIL_USER")
EMAIL_HOST_PASSWORD = env_str("IMCLOUD_EMAIL_PASSWORD")
EMAIL_USE_TLS = env_bool("IMCLOUD_EMAIL_TLS", False)
DEFAULT_FROM_EMAIL = env_str("IMCLOUD_EMAIL_FROM", "imcloud <no-reply@imcloud.localhost>")

# --- Internationalisation, static files -----------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
WHITENOISE_USE_FINDERS = True

# Console forms and the REST API both refuse bodies above this size (see docs/rest-api.md).
DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024

# --- REST API -------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["apps.api.auth.ChecksumAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["apps.api.auth.IsSignedApp"],
    "DEFAULT_THROTTLE_CLASSES": ["apps.api.throttling.AppRateThrottle"],
    "DEFAULT_PARSER_CLASSES": ["apps.api.parsers.LimitedJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "apps.api.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "imcloud server API",
    "DESCRIPTION": (
        "Signed server-to-server API. Every request carries AppKey, Nonce, CurTime and CheckSum "
        "headers: CheckSum = lowercase hex SHA1(AppSecret + Nonce + CurTime)."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_AUTHENTICATION": [],
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

# --- Product limits and keys (read by domain code at call time) ----------------------------------
IMCLOUD: dict[str, Any] = {
    # Seconds a signed request's CurTime may differ from server time; nonces are kept this long.
    "API_CHECKSUM_WINDOW": env_int("IMCLOUD_API_CHECKSUM_WINDOW", 300, minimum=1),
    "API_MAX_BODY_BYTES": env_int("IMCLOUD_API_MAX_BODY_BYTES", 64 * 1024, minimum=1024),
    # Requests per second per app when the app sets none of its own.
    "API_RATE_LIMIT_DEFAULT": env_int("IMCLOUD_API_RATE_LIMIT_DEFAULT", 100, minimum=1),
    # Key for secrets stored encrypted at rest (AppSecret now, push credentials later).
    "ENCRYPTION_KEY": env_str("IMCLOUD_ENCRYPTION_KEY") or SECRET_KEY,
    "HEALTH_TIMEOUT": env_int("IMCLOUD_HEALTH_TIMEOUT", 2, minimum=1),
    # --- WebSocket gateway (docs/protocol.md) ---
    "GATEWAY_LOGIN_TIMEOUT": env_int("IMCLOUD_GATEWAY_LOGIN_TIMEOUT", 10, minimum=1),
    "GATEWAY_HEARTBEAT_MIN": env_int("IMCLOUD_GATEWAY_HEARTBEAT_MIN", 5, minimum=1),
    "GATEWAY_HEARTBEAT_MAX": env_int("IMCLOUD_GATEWAY_HEARTBEAT_MAX", 600, minimum=1),
    "GATEWAY_HEARTBEAT_DEFAULT": env_int("IMCLOUD_GATEWAY_HEARTBEAT_DEFAULT", 60, minimum=1),
    # A session idle for 2 heartbeat intervals plus this grace is closed.
    "GATEWAY_IDLE_GRACE": env_int("IMCLOUD_GATEWAY_IDLE_GRACE", 10, minimum=0),
    "GATEWAY_MAX_FRAME_BYTES": env_int("IMCLOUD_GATEWAY_MAX_FRAME_BYTES", 64 * 1024, minimum=1024),
    "GATEWAY_RATE_PER_SECOND": env_int("IMCLOUD_GATEWAY_RATE_PER_SECOND", 100, minimum=1),
    "GATEWAY_RATE_BURST": env_int("IMCLOUD_GATEWAY_RATE_BURST", 200, minimum=1),
    # A busy gateway process starts a batch of sends at most this often (group commit): fewer,
    # larger transactions for up to this much more latency. 0 = as soon as the previous one ends.
    "GATEWAY_BATCH_INTERVAL_MS": env_int("IMCLOUD_GATEWAY_BATCH_INTERVAL_MS", 15, minimum=0),
    # --- Offline push: provider base URLs (tests point them at local servers) ---
    "PUSH_APNS_PRODUCTION_URL": env_str("IMCLOUD_PUSH_APNS_PRODUCTION_URL", "https://api.push.apple.com"),
    "PUSH_APNS_SANDBOX_URL": env_str("IMCLOUD_PUSH_APNS_SANDBOX_URL", "https://api.sandbox.push.apple.com"),
    "PUSH_FCM_URL": env_str("IMCLOUD_PUSH_FCM_URL", "https://fcm.googleapis.com"),
    "PUSH_HUAWEI_URL": env_str("IMCLOUD_PUSH_HUAWEI_URL", "https://push-api.cloud.huawei.com"),
    "PUSH_HUAWEI_TOKEN_URL": env_str(
        "IMCLOUD_PUSH_HUAWEI_TOKEN_URL", "https://oauth-login.cloud.huawei.com/oauth2/v3/token"
    ),
    "PUSH_XIAOMI_URL": env_str("IMCLOUD_PUSH_XIAOMI_URL", "https://api.xmpush.xiaomi.com"),
    # Web Push endpoints and token URIs come from browsers and developers: refuse private
    # addresses unless told otherwise (tests and local benchmarks).
    "PUSH_ALLOW_PRIVATE_ENDPOINTS": env_bool("IMCLOUD_PUSH_ALLOW_PRIVATE_ENDPOINTS", False),
    # Webhook and callback URLs come from developers: private addresses only when allowed.
    "WEBHOOK_ALLOW_PRIVATE_NETWORKS": env_bool("IMCLOUD_WEBHOOK_ALLOW_PRIVATE_NETWORKS", False),
    # WebSocket URLs handed out by GET /api/v1/lbs, in order of preference.
    "GATEWAY_URLS": env_list("IMCLOUD_GATEWAY_URLS", ["ws://127.0.0.1:8000/ws"]),
    # Short-link base URLs handed out by GET /api/v1/lbs; [] = derived from GATEWAY_URLS.
    "HTTP_URLS": env_list("IMCLOUD_HTTP_URLS", []),
    # Public address of this site (scheme://host[:port]) for URLs the console hands to SDKs;
    # empty = the address of the console request (apps/console/sdk_archive.py).
    "PUBLIC_URL": env_str("IMCLOUD_PUBLIC_URL"),
    # The checkout the console builds per-app SDK archives from (its sdk_clients/ and static/sdk/).
    "SDK_ROOT": env_str("IMCLOUD_SDK_ROOT") or str(BASE_DIR),
}

# --- Logging: one JSON object per line ------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "apps.core.logging.JsonFormatter"},
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": env_str("IMCLOUD_LOG_FORMAT", "json"),
        }
    },
    "root": {"handlers": ["console"], "level": env_str("IMCLOUD_LOG_LEVEL", "INFO").upper()},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # At INFO httpx logs every request: one line per push notification in the workers.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
    },
}
