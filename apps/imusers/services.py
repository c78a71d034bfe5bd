"""Writes on end users. Every function takes the app it acts for: tenancy is not optional."""

from __future__ import annotations

import logging

from django.db import IntegrityError, transaction
from django.db.models import F

from apps.core.errors import Conflict, InvalidField
from apps.imusers import limits
from apps.imusers.models import ImUser
from apps.imusers.tokens import token_generate, token_hash, token_new_salt
from apps.tenants.models import App

logger = logging.getLogger(__name__)


def _check_accid(accid: str) -> None:
    if not limits.ACCID_PATTERN.fullmatch(accid):
        raise InvalidField(
            f"accid is 1 to {limits.ACCID_MAX_LENGTH} characters of A-Z a-z 0-9 _ . @ -",
            field="accid",
        )


def _check_token(token: str) -> None:
    if not limits.TOKEN_PATTERN.fullmatch(token):
        raise InvalidField(
            f"token is 1 to {limits.TOKEN_MAX_LENGTH} printable ASCII characters without spaces",
            field="token",
        )


def _check_profile(*, name: str | None, avatar: str | None, ext: str | None) -> None:
    for field, value, cap in (
        ("name", name, limits.NAME_MAX_LENGTH),
        ("avatar", avatar, limits.AVATAR_MAX_LENGTH),
        ("ext", ext, limits.EXT_MAX_LENGTH),
    ):
        if value is not None and len(value) > cap:
            raise InvalidField(f"{field} has at most {cap} characters", field=field)


def _set_token(user: ImUser, token: str | None) -> str:
    if token is None:
        token = token_generate()
    else:
        _check_token(token)
    user.token_salt = token_new_salt()
    user.token_hash = token_hash(token=token, salt=user.token_salt)
    return token


def imuser_create(
    *,
    app: App,
    accid: str,
    name: str = "",
    avatar: str = "",
    ext: str = "",
    token: str | None = None,
) -> tuple[ImUser, str]:
    """Create an end user; returns it with its token (random when none is given)."""
    _check_accid(accid)
    _check_profile(name=name, avatar=avatar, ext=ext)
    user = ImUser(app=app, accid=accid, name=name, avatar=avatar, ext=ext)
    plain = _set_token(user, token)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as exc:
        raise Conflict("This accid already exists in this app.", field="accid", code="accid_exists") from exc
    logger.info("imuser created", extra={"app_key": app.app_key, "accid": accid})
    return user, plain


def imuser_update(
    *,
    user: ImUser,
    name: str | None = None,
    avatar: str | None = None,
    ext: str | None = None,
) -> ImUser:
    """Change profile fields; ``None`` leaves a field as it is."""
    _check_profile(name=name, avatar=avatar, ext=ext)
    changed = []
    for field, value in (("name", name), ("avatar", avatar), ("ext", ext)):
        if value is not None:
            setattr(user, field, value)
            changed.append(field)
    if changed:
        user.save(update_fields=[*changed, "updated_at"])
    return user


def _kick_after_commit(user: ImUser, reason: int, detail: str) -> None:
    from apps.gateway.publish import kick_sessions

    transaction.on_commit(lambda: kick_sessions(user_id=user.pk, reason=reason, detail=detail), robust=True)


def imuser_set_token(*, user: ImUser, token: str | None = None) -> str:
    """Replace the token (random when none is given); the old one stops working at once, and
    live sessions logged in with it are kicked."""
    from apps.protocol.imcloud_pb2 import KICK_REASON_TOKEN_CHANGED

    plain = _set_token(user, token)
    user.credentials_version = F("credentials_version") + 1
    with transaction.atomic():
        user.save(update_fields=["token_salt", "token_hash", "credentials_version", "updated_at"])
        _kick_after_commit(user, KICK_REASON_TOKEN_CHANGED, "The token was changed.")
    user.refresh_from_db(fields=["credentials_version"])
    logger.info("imuser token changed", extra={"app_key": user.app.app_key, "accid": user.accid})
    return plain


def imuser_block(*, user: ImUser, kick: bool) -> ImUser:
    """Block new logins; with ``kick``, live sessions are closed too (within a second)."""
    from apps.protocol.imcloud_pb2 import KICK_REASON_BLOCKED

    user.is_blocked = True
    user.credentials_version = F("credentials_version") + 1
    with transaction.atomic():
        user.save(update_fields=["is_blocked", "credentials_version", "updated_at"])
        if kick:
            _kick_after_commit(user, KICK_REASON_BLOCKED, "The user was blocked.")
    user.refresh_from_db(fields=["credentials_version"])
    logger.info("imuser blocked", extra={"app_key": user.app.app_key, "accid": user.accid, "kick": kick})
    return user


def imuser_unblock(*, user: ImUser) -> ImUser:
    user.is_blocked = False
    user.save(update_fields=["is_blocked", "updated_at"])
    logger.info("imuser unblocked", extra={"app_key": user.app.app_key, "accid": user.accid})
    return user
