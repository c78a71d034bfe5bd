"""Opening a gateway session: credentials, the app's multi-device policy, presence."""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass

from apps.core.errors import DomainError, InvalidField
from apps.gateway import publish
from apps.gateway.presence import SessionEntry, expiry, presence_store
from apps.imusers.models import ImUser
from apps.imusers.selectors import imuser_authenticate
from apps.protocol import imcloud_pb2 as pb
from apps.tenants.limits import MAX_DEVICES_ALL_POLICY
from apps.tenants.models import App, MultiDevicePolicy
from apps.tenants.selectors import app_get_by_key

logger = logging.getLogger(__name__)

MOBILE = "mobile"
DESKTOP = "desktop"
DEVICE_CLASS: dict[int, str] = {
    pb.PLATFORM_ANDROID: MOBILE,
    pb.PLATFORM_IOS: MOBILE,
    pb.PLATFORM_WEB: DESKTOP,
    pb.PLATFORM_WINDOWS: DESKTOP,
    pb.PLATFORM_MAC: DESKTOP,
    pb.PLATFORM_LINUX: DESKTOP,
}
DEVICE_ID_MAX = 64


class LoginRefused(DomainError):
    http_status = 401


@dataclass(frozen=True)
class Session:
    app: App
    user: ImUser
    session_id: str
    device_class: str
    device_id: str


def session_authenticate(*, app_key: str, accid: str, token: str, device_id: str, platform: int) -> Session:
    """Check a login's credentials and device; nothing is registered yet."""
    if platform not in DEVICE_CLASS:
        raise InvalidField("platform must be one of the Platform values", field="platform")
    if not device_id or len(device_id) > DEVICE_ID_MAX:
        raise InvalidField(f"device_id is 1 to {DEVICE_ID_MAX} characters", field="device_id")
    app = app_get_by_key(app_key=app_key)
    if app is None:
        raise LoginRefused("No app has this app key.", code="unknown_app")
    user = imuser_authenticate(app=app, accid=accid, token=token)
    if user is None:
        blocked = ImUser.objects.filter(app=app, accid=accid, is_blocked=True).exists()
        if blocked:
            raise LoginRefused("This user is blocked.", code="blocked")
        raise LoginRefused("Unknown accid or wrong token.", code="bad_credentials")
    return Session(
        app=app,
        user=user,
        session_id=uuid.uuid4().hex,
        device_class=DEVICE_CLASS[platform],
        device_id=device_id,
    )


def _displaced(policy: str, others: list[SessionEntry], new: Session) -> list[SessionEntry]:
    """Which live sessions the new login pushes out under the app's multi-device policy."""
    same_device = [e for e in others if e.device_id == new.device_id]
    rest = [e for e in others if e.device_id != new.device_id]
    if policy == MultiDevicePolicy.SINGLE:
        return same_device + rest
    if policy == MultiDevicePolicy.DESKTOP_MOBILE:
        return same_device + [e for e in rest if e.device_class == new.device_class]
    # ALL: up to MAX_DEVICES_ALL_POLICY at once; the oldest logins make room.
    excess = len(rest) + 1 - MAX_DEVICES_ALL_POLICY
    oldest_first = sorted(rest, key=lambda e: e.expires_at)
    return same_device + (oldest_first[:excess] if excess > 0 else [])


def session_register(*, session: Session, process: str) -> int:
    """Publish the session in presence and kick the sessions it displaces; returns how many."""
    store = presence_store()
    others = [
        e
        for e in store.lookup([session.user.pk]).get(session.user.pk, [])
        if e.session_id != session.session_id
    ]
    store.put(
        [
            SessionEntry(
                session_id=session.session_id,
                user_id=session.user.pk,
                process=process,
                device_class=session.device_class,
                device_id=session.device_id,
                expires_at=expiry(),
            )
        ]
    )
    displaced = _displaced(session.app.multi_device_policy, others, session)
    if displaced:
        publish.kick_sessions(
            user_id=session.user.pk,
            reason=pb.KICK_REASON_OTHER_DEVICE,
            detail="Logged in on another device.",
            only={e.session_id for e in displaced},
        )
        for entry in displaced:
            store.drop(session.user.pk, entry.session_id)
    _emit_session(session, "session.login")
    logger.info(
        "session opened",
        extra={"app_key": session.app.app_key, "accid": session.user.accid, "kicked": len(displaced)},
    )
    return len(displaced)


def _emit_session(session: Session, kind: str, reason: str = "") -> None:
    from apps.webhooks.payloads import webhook_payload_for_session
    from apps.webhooks.services import webhook_emit

    payload = webhook_payload_for_session(
        accid=session.user.accid,
        device_id=session.device_id,
        device_class=session.device_class,
        session_id=session.session_id,
        server_time=now_ms(),
        reason=reason,
    )
    webhook_emit(app=session.app, type=kind, payload=payload)


def session_close(*, session: Session, reason: str) -> None:
    """The socket is gone: forget the session and tell the app server why it ended."""
    presence_store().drop(session.user.pk, session.session_id)
    _emit_session(session, "session.logout", reason)


def now_ms() -> int:
    return int(time.time() * 1000)
