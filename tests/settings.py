"""Test settings: PostgreSQL and Redis when they answer, embedded otherwise.

Decided before the project settings are read, so the suite needs no flags on a developer's machine.
With IMCLOUD_REQUIRE_SERVICES=1 (set by .ci/run) a service that does not answer fails the run
instead of silently falling back.
"""

from __future__ import annotations

import os
import tempfile

SERVICE_DEFAULTS = {
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/imcloud",
    "REDIS_URL": "redis://127.0.0.1:6379/14",
}


def _postgres_answers(url: str) -> str | None:
    import psycopg

    try:
        with psycopg.connect(url.replace("/imcloud", "/postgres"), connect_timeout=2) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:  # report any failure as the reason
        return repr(exc)
    return None


def _redis_answers(url: str) -> str | None:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2).ping()
    except Exception as exc:
        return repr(exc)
    return None


def _choose_services() -> dict[str, str]:
    required = os.environ.get("IMCLOUD_REQUIRE_SERVICES", "") in {"1", "true", "yes"}
    chosen: dict[str, str] = {}
    probes = {"DATABASE_URL": _postgres_answers, "REDIS_URL": _redis_answers}
    for name, probe in probes.items():
        url = os.environ.get(name) or SERVICE_DEFAULTS[name]
        failure = probe(url)
        if failure is None:
            chosen[name] = url
        elif required:
            raise RuntimeError(f"IMCLOUD_REQUIRE_SERVICES=1 but {name}={url} does not answer: {failure}")
        else:
            os.environ.pop(name, None)
    return chosen


for _name, _url in _choose_services().items():
    os.environ[_name] = _url
os.environ.setdefault("IMCLOUD_SECRET_KEY", "test-secret-key-not-for-production")
os.environ.setdefault("IMCLOUD_DATA_DIR", tempfile.mkdtemp(prefix="imcloud-test-"))
os.environ.setdefault("IMCLOUD_LOG_LEVEL", "WARNING")
# Concurrent test runs share Redis database 14; their keys and channels must not meet.
os.environ.setdefault("IMCLOUD_REDIS_NAMESPACE", f"imcloud-test-{os.getpid()}")

from imcloud.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# One test database per pytest process, so that concurrent runs on one machine (several
# terminals, or CI beside a developer) never drop or flush each other's database.
# Each test run has its own Celery queue, so a worker started by one run never takes another's.
CELERY_TASK_DEFAULT_QUEUE = f"imcloud-test-{os.getpid()}"

# Connections opened on the gateway's database thread must not outlive a test, or the test
# database cannot be dropped at the end of the run.
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
# (SQLite tests use an in-memory database, private to the process already.)
if DATABASES["default"]["ENGINE"].endswith("postgresql"):  # noqa: F405
    DATABASES["default"].setdefault("TEST", {})["NAME"] = f"test_imcloud_{os.getpid()}"  # noqa: F405
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
