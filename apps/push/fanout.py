"""Who gets a notification for a message, what it says, and sending it once per device.

Runs in Celery workers. A message's recipients are split into batches (PUSH_BATCH users per task)
so a 10,000-member team is twenty tasks, not one giant task nor 10,000 tiny ones. Each batch is
planned with a fixed number of queries, then sent over a small thread pool. Every (message,
device) pair gets a PushAttempt row before it is sent; the unique constraint on it is what makes
a retried task harmless.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import queue
import random
import threading
import zoneinfo
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper
from django.utils import timezone

from apps.core.crypto import decrypt_text
from apps.core.ratelimit import count_in_second
from apps.core.sql import column as column_of
from apps.core.sql import int_array, prepared, text_array
from apps.core.sql import table as table_of
from apps.gateway.presence import presence_store
from apps.gateway.sessions import DESKTOP
from apps.messaging.models import Message, MessageType
from apps.push import queries
from apps.push.models import AttemptStatus, Device, PushAttempt, PushCredential, PushPreferences, PushSettings
from apps.push.providers import PROVIDERS, DeviceTarget, Notification, ProviderResult
from apps.push.queries import DeviceRow, PushMessage

logger = logging.getLogger(__name__)

PUSH_BATCH = 500
SEND_THREADS = 16
MAX_ATTEMPTS = 5
# Devices claimed per UPDATE (SQLite builds before 3.32 allow 999 parameters per statement).
CLAIM_CHUNK = 900
# Outcomes recorded per transaction while a batch is still sending.
RECORD_CHUNK = 100
# Outcomes a sending thread hands back at a time.
HANDBACK = 8
MOBILE_PROVIDERS = {"apns", "fcm", "huawei", "xiaomi"}
PREVIEWS = {
    MessageType.IMAGE: "[image]",
    MessageType.AUDIO: "[audio]",
    MessageType.VIDEO: "[video]",
    MessageType.FILE: "[file]",
    MessageType.LOCATION: "[location]",
    MessageType.CUSTOM: "[message]",
}
SILENT_TYPES = {MessageType.RECALL, MessageType.TIP}


def wants_push(message: Message | PushMessage) -> bool:
    return message.type not in SILENT_TYPES and (message.body or {}).get("push", True) is not False


def recipients(message: Message | PushMessage) -> list[int]:
    """Everyone in the conversation but the sender."""
    return queries.message_recipients(conversation_id=message.conversation_id, sender_id=message.sender_id)


def batches(user_ids: Sequence[int]) -> list[list[int]]:
    return [list(user_ids[i : i + PUSH_BATCH]) for i in range(0, len(user_ids), PUSH_BATCH)]


# --- Planning -----------------------------------------------------------------------------------


def _in_dnd(preferences: PushPreferences | DeviceRow, now: dt.datetime) -> bool:
    if not preferences.dnd_enabled:
        return False
    local = now.astimezone(zoneinfo.ZoneInfo(preferences.timezone))
    minute = local.hour * 60 + local.minute
    start, end = preferences.dnd_start_minute, preferences.dnd_end_minute
    return start <= minute < end if start <= end else (minute >= start or minute < end)


def _text(message: PushMessage, settings: PushSettings) -> tuple[str, str]:
    sender = message.sender_name or message.sender_accid
    body = message.body or {}
    preview = (
        (body.get("text") or PREVIEWS.get(MessageType(message.type), "")) if settings.show_preview else ""
    )
    preview = preview[:120] or "New message"
    if message.is_team:
        values = {"sender": sender, "team": message.team_name, "preview": preview}
        return settings.team_title.format_map(values), settings.team_body.format_map(values)
    values = {"sender": sender, "team": "", "preview": preview}
    return settings.p2p_title.format_map(values), settings.p2p_body.format_map(values)


@dataclass(frozen=True)
class Planned:
    device: DeviceRow
    notification: Notification


def settings_for(app_id: int) -> PushSettings:
    settings, _ = PushSettings.objects.get_or_create(app_id=app_id)
    return settings


def plan(
    message: PushMessage,
    user_ids: Sequence[int],
    now: dt.datetime | None = None,
    *,
    settings: PushSettings | None = None,
) -> list[Planned]:
    """The devices to notify of ``message`` among ``user_ids``, and what to tell each.

    One statement reads the devices with their users' preferences, mutes and badges
    (``queries.devices_for``); presence is one Redis lookup.
    """
    now = now or timezone.now()
    settings = settings or settings_for(message.app_id)
    devices = [
        d
        for d in queries.devices_for(message=message, user_ids=list(user_ids))
        if not d.push_muted and d.push_enabled and not _in_dnd(d, now)
    ]
    if not devices:
        return []
    sessions = presence_store().lookup({d.user_id for d in devices})
    title, body = _text(message, settings)
    conversation_key = f"c{message.conversation_id}"
    # A team member names the conversation by the team's id; a one-to-one recipient by the sender.
    target = str(message.conversation_id) if message.is_team else message.sender_accid
    data = {
        "conversation_type": "team" if message.is_team else "p2p",
        "target": target,
        "server_msg_id": str(message.pk),
        "seq": str(message.seq),
    }
    planned = []
    for device in devices:
        live = sessions.get(device.user_id, [])
        if device.foreground and any(e.device_id == device.device_id for e in live):
            continue  # the app is open and connected: the message reached it live
        if (
            settings.mute_mobile_while_desktop_online
            and device.provider in MOBILE_PROVIDERS
            and any(e.device_class == DESKTOP for e in live)
        ):
            continue
        planned.append(
            Planned(
                device=device,
                notification=Notification(
                    title=title,
                    body=body,
                    badge=device.badge,
                    collapse_id=conversation_key,
                    thread_id=conversation_key,
                    data=dict(data),
                ),
            )
        )
    return planned


# --- Sending ----------------------------------------------------------------------------------------


def _credentials(app_id: int) -> dict[str, dict[str, Any]]:
    return {
        c.provider: json.loads(decrypt_text(c.ciphertext))
        for c in PushCredential.objects.filter(app_id=app_id)
    }


def _target(device: DeviceRow) -> DeviceTarget:
    return DeviceTarget(
        provider=device.provider,
        token=device.token,
        p256dh=device.p256dh,
        auth=device.auth,
        bundle_id=device.bundle_id,
    )


def _within_rate(app_id: int, rate: int, count: int) -> bool:
    second = int(timezone.now().timestamp())
    return count_in_second(f"push-rate:{app_id}", second=second, amount=count) <= rate


def _column(name: str) -> str:
    return column_of(PushAttempt, name)


def _chunks(values: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def reserve(message: PushMessage, planned: Sequence[Planned]) -> list[tuple[PushAttempt, Planned]]:
    """Claim (message, device) pairs; pairs claimed before (a retried task) are skipped.

    The caller runs this in a transaction. A racing task's INSERT of the same pairs waits on the
    unique index until that transaction ends, then its UPDATE finds them no longer pending. One
    INSERT and one UPDATE per chunk of devices, whatever the batch size; RETURNING works on
    PostgreSQL and on SQLite >= 3.35 (the embedded quick start).
    """
    ordered = sorted(planned, key=lambda p: p.device.pk)
    by_device = {p.device.pk: p for p in ordered}
    now = timezone.now()
    rows = (
        _insert_and_claim_postgres(message, ordered, now)
        if connection.vendor == "postgresql"
        else (_insert_and_claim_portable(message, ordered, now))
    )
    claimed = []
    for attempt_id, device_id, attempts in rows:
        chosen = by_device[device_id]
        attempt = PushAttempt(
            id=attempt_id,
            app_id=message.app_id,
            message_id=message.pk,
            device_id=device_id,
            provider=chosen.device.provider,
            status=AttemptStatus.SENDING,
            attempts=attempts,
            badge=chosen.notification.badge,
            updated_at=now,
        )
        claimed.append((attempt, chosen))
    return claimed


def _insert_and_claim_postgres(
    message: PushMessage, ordered: Sequence[Planned], now: dt.datetime
) -> list[tuple[Any, ...]]:
    """(attempt id, device id, attempts) of the pairs claimed: two fixed statements, prepared."""
    table = table_of(PushAttempt)
    c = _column
    # In device order: two tasks inserting the same pairs in different orders could deadlock.
    prepared(
        f"INSERT INTO {table} ({c('app')}, {c('message')}, {c('device')}, {c('provider')}, {c('status')},"  # noqa: S608 - names from the model
        f" {c('attempts')}, {c('status_code')}, {c('detail')}, {c('response')}, {c('badge')},"
        f" {c('created_at')}, {c('updated_at')})"
        " SELECT %s, %s, v.device_id, v.provider, %s, 0, 0, '', '', v.badge, %s, %s"
        " FROM unnest(%s::bigint[], %s::text[], %s::int[]) WITH ORDINALITY"
        " AS v(device_id, provider, badge, n) ORDER BY v.n ON CONFLICT DO NOTHING",
        [
            message.app_id,
            message.pk,
            AttemptStatus.PENDING.value,
            now,
            now,
            int_array(p.device.pk for p in ordered),
            text_array(p.device.provider for p in ordered),
            [p.notification.badge for p in ordered],  # may hold None: a list, not a literal
        ],
    )
    return prepared(
        f"UPDATE {table} SET {c('status')} = %s, {c('updated_at')} = %s"  # noqa: S608 - names from the model
        f" WHERE {c('message')} = %s AND {c('status')} = %s AND {c('device')} = ANY(%s::bigint[])"
        f" RETURNING {c('id')}, {c('device')}, {c('attempts')}",
        [
            AttemptStatus.SENDING,
            now,
            message.pk,
            AttemptStatus.PENDING,
            int_array(p.device.pk for p in ordered),
        ],
    )


def _insert_and_claim_portable(
    message: PushMessage, ordered: Sequence[Planned], now: dt.datetime
) -> list[tuple[Any, ...]]:
    """The same through the ORM and one UPDATE per chunk of devices (SQLite's variable limit)."""
    PushAttempt.objects.bulk_create(
        [
            PushAttempt(
                app_id=message.app_id,
                message_id=message.pk,
                device_id=p.device.pk,
                provider=p.device.provider,
                badge=p.notification.badge,
            )
            for p in ordered
        ],
        ignore_conflicts=True,
    )
    sql_now = connection.ops.adapt_datetimefield_value(now)
    table = table_of(PushAttempt)
    rows: list[tuple[Any, ...]] = []
    with connection.cursor() as cursor:
        for chunk in _chunks([p.device.pk for p in ordered], CLAIM_CHUNK):
            status, device = _column("status"), _column("device")
            sql = (
                f"UPDATE {table} SET {status} = %s, {_column('updated_at')} = %s"  # noqa: S608 - names from the model
                f" WHERE {_column('message')} = %s AND {status} = %s"
                f" AND {device} IN ({', '.join(['%s'] * len(chunk))})"
                f" RETURNING {_column('id')}, {device}, {_column('attempts')}"
            )
            cursor.execute(
                sql, [AttemptStatus.SENDING.value, sql_now, message.pk, AttemptStatus.PENDING.value, *chunk]
            )
            rows.extend(cursor.fetchall())
    return rows


_send_pool: ThreadPoolExecutor | None = None
_send_pool_lock = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    """The process's sending threads, kept for its lifetime so each keeps its own connections."""
    global _send_pool
    with _send_pool_lock:
        if _send_pool is None:
            _send_pool = ThreadPoolExecutor(max_workers=SEND_THREADS, thread_name_prefix="push-send")
        return _send_pool


def send_claimed(
    claimed: Sequence[tuple[PushAttempt, Planned]], app_id: int
) -> list[tuple[PushAttempt, ProviderResult]]:
    """Send every claimed attempt (a few at a time) and record the outcomes as they come back.

    Outcomes are recorded in chunks while the other sends are still in flight, so the database
    work of a batch overlaps its sending instead of following it.
    """
    credentials = _credentials(app_id)

    def one(item: tuple[PushAttempt, Planned]) -> tuple[PushAttempt, ProviderResult]:
        attempt, planned = item
        creds = credentials.get(planned.device.provider)
        if creds is None:
            return attempt, ProviderResult(
                outcome="failed", status=0, detail="no credentials for this provider"
            )
        try:
            result = PROVIDERS[planned.device.provider].send(
                notification=planned.notification, device=_target(planned.device), credentials=creds
            )
        except Exception as exc:  # an HTTP client failure must not lose the notification: retry it
            logger.exception("push provider raised", extra={"provider": planned.device.provider})
            result = ProviderResult(outcome="retry", status=0, detail=f"{type(exc).__name__}: {exc}"[:255])
        return attempt, result

    if not claimed:
        return []
    if len(claimed) == 1:  # a one-to-one message or a retry: no thread hop
        single = [one(claimed[0])]
        record(single)
        return single
    # A few sending threads pull attempts from a shared queue and hand outcomes back in small
    # lists. (A future per attempt cost more in locks and wake-ups than the libcurl send itself.)
    todo: queue.SimpleQueue[tuple[PushAttempt, Planned]] = queue.SimpleQueue()
    for item in claimed:
        todo.put(item)
    done: queue.SimpleQueue[list[tuple[PushAttempt, ProviderResult]] | None] = queue.SimpleQueue()

    def drain() -> None:
        out: list[tuple[PushAttempt, ProviderResult]] = []
        try:
            while True:
                try:
                    item = todo.get_nowait()
                except queue.Empty:
                    break
                out.append(one(item))
                if len(out) >= HANDBACK:
                    done.put(out)
                    out = []
        except Exception:  # not the provider's (one() catches those): what is left waits for the sweep
            logger.exception("push sending thread failed")
        finally:
            done.put(out)
            done.put(None)

    senders = min(SEND_THREADS, len(claimed))
    for _ in range(senders):
        _pool().submit(drain)
    outcomes: list[tuple[PushAttempt, ProviderResult]] = []
    unrecorded: list[tuple[PushAttempt, ProviderResult]] = []
    finished = 0
    while finished < senders:
        handed = done.get()
        if handed is None:
            finished += 1
            continue
        unrecorded.extend(handed)
        if len(unrecorded) >= RECORD_CHUNK:
            record(unrecorded)
            outcomes.extend(unrecorded)
            unrecorded = []
    record(unrecorded)
    outcomes.extend(unrecorded)
    return outcomes


def _apply(attempt: PushAttempt, result: ProviderResult, now: dt.datetime) -> None:
    attempt.attempts += 1
    attempt.status_code = result.status
    attempt.detail = result.detail[:255]
    attempt.response = result.response[:2000]
    attempt.updated_at = now
    if result.outcome == "delivered":
        attempt.status = AttemptStatus.DELIVERED
    elif result.outcome == "dead_token":
        attempt.status = AttemptStatus.DEAD_TOKEN
    elif result.outcome == "retry" and attempt.attempts < MAX_ATTEMPTS:
        attempt.status = AttemptStatus.RETRY
    else:
        attempt.status = AttemptStatus.FAILED


_OUTCOME_FIELDS = ("attempts", "status_code", "detail", "response", "status", "updated_at")


def _write_outcomes(cursor: CursorWrapper, rows: Sequence[tuple[Any, ...]]) -> None:
    """Each row: the _OUTCOME_FIELDS values, then the attempt id."""
    table = table_of(PushAttempt)
    if connection.vendor == "postgresql":
        # One fixed statement, prepared: the rows travel as arrays.
        assignments = ", ".join(f"{_column(f)} = v.{f}" for f in _OUTCOME_FIELDS)
        columns = list(zip(*rows, strict=True))
        prepared(
            f"UPDATE {table} SET {assignments} FROM unnest(%s::int[], %s::int[], %s::text[], %s::text[],"  # noqa: S608 - names from the model
            f" %s::text[], %s::timestamptz[], %s::bigint[]) AS v({', '.join(_OUTCOME_FIELDS)}, id)"
            f" WHERE {table}.{_column('id')} = v.id",
            [list(column) for column in columns],
        )
        return
    assignments = ", ".join(f"{_column(f)} = %s" for f in _OUTCOME_FIELDS)
    sql = f"UPDATE {table} SET {assignments} WHERE {_column('id')} = %s"  # noqa: S608 - names from the model
    cursor.executemany(sql, rows)


def record(outcomes: Sequence[tuple[PushAttempt, ProviderResult]]) -> None:
    """Store the outcome of each attempt and delete the devices whose token is dead.

    One UPDATE (PostgreSQL; an executemany elsewhere) and at most one DELETE, in one transaction,
    however many outcomes there are.
    """
    if not outcomes:
        return
    now = timezone.now()
    sql_now = connection.ops.adapt_datetimefield_value(now)
    rows = []
    dead: list[tuple[int, str]] = []
    for attempt, result in outcomes:
        _apply(attempt, result, now)
        rows.append(
            (
                attempt.attempts,
                attempt.status_code,
                attempt.detail,
                attempt.response,
                attempt.status,
                sql_now,
                attempt.pk,
            )
        )
        if attempt.status == AttemptStatus.DEAD_TOKEN and attempt.device_id is not None:
            dead.append((attempt.device_id, attempt.provider))
    with transaction.atomic():
        with connection.cursor() as cursor:
            _write_outcomes(cursor, rows)
        if dead:
            Device.objects.filter(pk__in=[device_id for device_id, _ in dead]).delete()
    for device_id, provider in dead:
        logger.info("dead push token removed", extra={"device": device_id, "provider": provider})


def retry_delay(attempts: int, retry_after: float | None) -> float:
    """Exponential backoff with full jitter, never sooner than the provider's Retry-After."""
    backoff = min(300.0, 2.0 * 2 ** (attempts - 1))
    return max(retry_after or 0.0, random.uniform(backoff / 2, backoff))  # noqa: S311 - jitter, not secrets


def within_rate(app_id: int, count: int, *, settings: PushSettings | None = None) -> bool:
    settings = settings or settings_for(app_id)
    return _within_rate(app_id, settings.rate_per_second, count)


def load_message(message_id: int) -> PushMessage | None:
    return queries.message_load(message_id=message_id)
