"""Limits on apps, named once; docs/rest-api.md and the console quote them."""

MAX_APPS_PER_DEVELOPER = 50
APP_NAME_MAX_LENGTH = 64
RETENTION_DAYS_MIN = 1
RETENTION_DAYS_MAX = 3650
API_RATE_LIMIT_MAX = 10_000
MAX_DEVICES_ALL_POLICY = 10
