"""The Django side of bench/push.py: provisioning, sending messages, checking what arrived.

Started by bench/push.py as a child process with the bench's DATABASE_URL / REDIS_URL /
CELERY_BROKER_URL (so it is also "the API server" that stores the messages and enqueues their
push: its CPU is reported on its own). Commands arrive on stdin, one JSON object per line; each
gets one JSON line on stdout. Only project services are used for what they cover:
``apps.push.services.credentials_set`` / ``webpush_credentials_generate`` / ``settings_update``,
``apps.teams.services.team_create`` and ``apps.messaging.services.message_send``. Devices are
bulk-inserted (10,000 ``device_register`` calls would take minutes) after each token passes the
provider's own ``validate_device``.

    {"op": "credentials", "provider": "apns", "credentials": {...}}  -> {"summary": {...}}
    {"op": "devices", "provider": P, "count": N, "subscriptions": PATH|null} -> {"devices": N}
    {"op": "settings", "rate_per_second": R}
    {"op": "small_teams", "size": S, "count": C} -> {"teams": [[team_id, owner_accid], ...]}
    {"op": "send", "sender": ACCID, "team": TEAM_ID, "text": T} -> {"message_id", "t0", "t1"}
    {"op": "stream", "rate": MSGS_PER_S, "duration": S, "targets": [[accid, team], ...]}
    {"op": "verify", "dump": PATH, "message_ids": [...]} -> exactly-once check + PushAttempt statuses
    {"op": "exit"}
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
import traceback
import uuid
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imcloud.settings")

import django

django.setup()

from django.db import connection  # noqa: E402

from apps.imusers.models import ImUser  # noqa: E402
from apps.messaging.content import MessageContent  # noqa: E402
from apps.messaging.models import ConversationKind, ConversationMember, MessageType  # noqa: E402
from apps.messaging.services import message_send  # noqa: E402
from apps.push import services as push_services  # noqa: E402
from apps.push.models import Device, PushAttempt  # noqa: E402
from apps.push.providers import PROVIDERS, DeviceTarget  # noqa: E402
from apps.tenants.models import App  # noqa: E402

ACCID_FORMAT = "u{:06d}"  # as bench/provision.py
DEVICE_ID = "phone"


class Helper:
    def __init__(self, app_key: str) -> None:
        self.app = App.objects.get(app_key=app_key)
        self.users: dict[str, ImUser] = {}

    def user(self, accid: str) -> ImUser:
        user = self.users.get(accid)
        if user is None:
            user = self.users[accid] = ImUser.objects.get(app=self.app, accid=accid)
        return user

    # --- provisioning ---------------------------------------------------------------------------

    def credentials(self, provider: str, credentials: dict[str, Any] | None) -> dict[str, Any]:
        if provider == "webpush":
            stored = push_services.webpush_credentials_generate(
                app=self.app, subject="mailto:bench@example.com"
            )
        else:
            stored = push_services.credentials_set(app=self.app, provider=provider, data=credentials or {})
        return {"summary": stored.summary}

    def token(self, provider: str, accid: str) -> str:
        digest = hashlib.sha256(f"{self.app.app_key}:{accid}".encode()).hexdigest()
        if provider == "apns":
            return digest  # 64 hex digits, like a real device token
        return f"bench:{accid}:{digest}"  # an FCM registration token's alphabet, 32+ characters

    def devices(self, provider: str, count: int, subscriptions: str | None) -> dict[str, Any]:
        users = list(ImUser.objects.filter(app=self.app).order_by("accid").values_list("pk", "accid")[:count])
        subs: list[dict[str, Any]] = json.loads(Path(subscriptions).read_text()) if subscriptions else []
        client = PROVIDERS[provider]
        rows = []
        for index, (user_id, accid) in enumerate(users):
            if provider == "webpush":
                sub = subs[index]
                target = DeviceTarget(
                    provider=provider,
                    token=sub["endpoint"],
                    p256dh=sub["keys"]["p256dh"],
                    auth=sub["keys"]["auth"],
                )
            else:
                target = DeviceTarget(provider=provider, token=self.token(provider, accid))
            client.validate_device(target)  # what device_register checks
            rows.append(
                Device(
                    app=self.app,
                    user_id=user_id,
                    device_id=DEVICE_ID,
                    provider=provider,
                    token=target.token,
                    p256dh=target.p256dh,
                    auth=target.auth,
                )
            )
        Device.objects.bulk_create(rows, batch_size=2000)
        return {"devices": len(rows)}

    def settings(self, rate_per_second: int) -> dict[str, Any]:
        stored = push_services.settings_update(app=self.app, rate_per_second=rate_per_second)
        return {"rate_per_second": stored.rate_per_second}

    def small_teams(self, size: int, count: int) -> dict[str, Any]:
        from apps.teams import services as team_services

        teams = []
        for t in range(count):
            members = [ACCID_FORMAT.format(t * size + i) for i in range(size)]
            team = team_services.team_create(
                app=self.app, owner=members[0], name=f"push bench {t}", members=members[1:], max_members=size
            )
            teams.append([str(team.pk), members[0]])
        return {"teams": teams}

    # --- sending --------------------------------------------------------------------------------

    def send_one(self, sender: str, team: str, text: str) -> tuple[int, float, float]:
        user = self.user(sender)
        t0 = time.time()
        result = message_send(
            app=self.app,
            sender=user,
            conversation_type=ConversationKind.TEAM,
            target=team,
            client_msg_id=uuid.uuid4().hex,
            content=MessageContent(type=MessageType.TEXT, text=text),
        )
        return int(result.message.pk), t0, time.time()

    def send(self, sender: str, team: str, text: str) -> dict[str, Any]:
        message_id, t0, t1 = self.send_one(sender, team, text)
        return {"message_id": message_id, "t0": t0, "t1": t1}

    def stream(self, rate: float, duration: float, targets: list[list[str]]) -> dict[str, Any]:
        """Open loop: message k is due at start + k / rate; a late one is sent at once (and counted)."""
        total = max(1, round(rate * duration))
        start = time.time() + 0.2
        sent: list[tuple[int, float]] = []
        late = 0
        call_s = 0.0
        for k in range(total):
            due = start + k / rate
            now = time.time()
            if now < due:
                time.sleep(due - now)
            elif now - due > 0.05:
                late += 1
            if time.time() > start + duration + 5:
                break  # bounded: do not chase a schedule we are far behind on
            sender, team = targets[k % len(targets)]
            message_id, t0, t1 = self.send_one(sender, team, f"bench {k}")
            call_s += t1 - t0
            sent.append((message_id, t0))
        return {
            "wanted": total,
            "sent": len(sent),
            "late": late,
            "seconds": round(time.time() - start, 3),
            "mean_send_call_ms": round(1000 * call_s / max(1, len(sent)), 2),
            "messages": sent,
        }

    def direct(self, count: int, threads: int) -> dict[str, Any]:
        """The provider client alone (no Celery, no database per send): ``count`` sends of one
        notification (server_msg_id 0) over ``threads`` threads, as fanout.send_claimed does."""
        import resource
        from concurrent.futures import ThreadPoolExecutor

        from apps.core.crypto import decrypt_text
        from apps.push.models import PushCredential
        from apps.push.providers import Notification

        credentials = {
            c.provider: json.loads(decrypt_text(c.ciphertext))
            for c in PushCredential.objects.filter(app=self.app)
        }
        devices = list(Device.objects.filter(app=self.app).order_by("pk")[:count])
        notification = Notification(
            title="push bench",
            body="direct send",
            badge=1,
            collapse_id="c0",
            thread_id="c0",
            data={"conversation_type": "team", "target": "0", "server_msg_id": "0", "seq": "0"},
        )

        def one(device: Device) -> str:
            try:
                result = PROVIDERS[device.provider].send(
                    notification=notification,
                    device=DeviceTarget(
                        provider=device.provider, token=device.token, p256dh=device.p256dh, auth=device.auth
                    ),
                    credentials=credentials[device.provider],
                )
            except Exception as exc:
                return f"raised {type(exc).__name__}: {exc}"[:90]
            return f"{result.outcome} {result.detail}"[:90].strip()

        before = resource.getrusage(resource.RUSAGE_SELF)
        started = time.time()
        with ThreadPoolExecutor(max_workers=threads) as pool:
            outcomes = Counter(pool.map(one, devices))
        seconds = time.time() - started
        after = resource.getrusage(resource.RUSAGE_SELF)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return {
            "sends": len(devices),
            "threads": threads,
            "seconds": round(seconds, 3),
            "sends_per_s": round(len(devices) / max(1e-6, seconds), 1),
            "client_cpu_ms_per_send": round(1000 * cpu / max(1, len(devices)), 3),
            "outcomes": dict(outcomes),
        }

    # --- checking -------------------------------------------------------------------------------

    def verify(self, dump: str, message_ids: list[int]) -> dict[str, Any]:
        """Every device of every recipient got exactly one notification per message; attempts."""
        received = json.loads(Path(dump).read_text())
        keys = received["devices"]
        got: dict[int, Counter[str]] = defaultdict(Counter)
        for msg_id, device in zip(received["msg_ids"], received["device"], strict=True):
            got[msg_id][keys[device]] += 1
        wanted_ids = set(message_ids)
        from apps.messaging.models import Message

        messages = dict(Message.objects.filter(pk__in=wanted_ids).values_list("pk", "conversation_id"))
        senders = dict(Message.objects.filter(pk__in=wanted_ids).values_list("pk", "sender_id"))
        tokens_of_user: dict[int, list[str]] = defaultdict(list)
        for user_id, token in Device.objects.filter(app=self.app).values_list("user_id", "token"):
            tokens_of_user[user_id].append(token)
        members: dict[int, list[int]] = {}
        expected_total = missing = duplicates = unexpected = 0
        for msg_id in message_ids:
            conversation_id = messages.get(msg_id)
            if conversation_id is None:
                continue
            if conversation_id not in members:
                members[conversation_id] = list(
                    ConversationMember.objects.filter(conversation_id=conversation_id).values_list(
                        "user_id", flat=True
                    )
                )
            expected = {
                token
                for uid in members[conversation_id]
                if uid != senders[msg_id]
                for token in tokens_of_user[uid]
            }
            counts = got.get(msg_id, Counter())
            expected_total += len(expected)
            missing += sum(1 for token in expected if counts[token] == 0)
            duplicates += sum(n - 1 for token, n in counts.items() if n > 1)
            unexpected += sum(n for token, n in counts.items() if token not in expected)
        other_messages = sum(sum(c.values()) for m, c in got.items() if m not in wanted_ids)
        attempts = Counter(
            PushAttempt.objects.filter(message_id__in=wanted_ids).values_list("status", flat=True)
        )
        tries = Counter(
            PushAttempt.objects.filter(message_id__in=wanted_ids).values_list("attempts", flat=True)
        )
        not_delivered = list(
            PushAttempt.objects.filter(message_id__in=wanted_ids)
            .exclude(status="delivered")
            .values("status", "status_code", "detail", "attempts")[:5]
        )
        received_total = sum(sum(c.values()) for m, c in got.items() if m in wanted_ids)
        return {
            "messages": len(message_ids),
            "expected_notifications": expected_total,
            "received_notifications": received_total,
            "missing": missing,
            "duplicates": duplicates,
            "unexpected_devices": unexpected,
            "received_for_other_messages": other_messages,
            "attempts_by_status": dict(attempts),
            "attempts_not_delivered_sample": not_delivered,
            "attempts_by_tries": {str(k): v for k, v in sorted(tries.items())},
            "exactly_once": missing == 0 and duplicates == 0 and unexpected == 0,
            "all_attempts_delivered": attempts.get("delivered", 0) == expected_total
            and sum(attempts.values()) == expected_total,
        }


def main() -> None:
    helper = Helper(os.environ["PUSH_BENCH_APP_KEY"])
    print(json.dumps({"ready": True, "pid": os.getpid()}), flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        op = command.pop("op")
        if op == "exit":
            break
        try:
            answer = getattr(helper, op)(**command)
        except Exception as exc:
            answer = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()[-3000:]}
        finally:
            connection.close_if_unusable_or_obsolete()
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
