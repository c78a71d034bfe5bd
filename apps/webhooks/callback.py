"""The before-delivery callback: the app's server may allow, reject or rewrite a message first.

One synchronous, signed POST (the same headers as webhooks) within the app's timeout (2 s by
default), one try. The app server answers ``{"allow": true}``, ``{"allow": false, "code": "...",
"reason": "..."}`` or ``{"allow": true, "rewrite": {"text": ..., "ext": ..., "custom": ...}}``.
No answer, a non-2xx answer or an answer we cannot use allows the message when the app chose
fail-open and refuses it (``callback_unavailable``) when it chose fail-closed.

The caller (the send path) calls this before storing a message and stores ``decision.content_body``.
It blocks for up to the timeout: call it outside the sending transaction and off any event loop.
Given the app's ``config`` (``webhook_config_for``, which may be cached briefly) it makes no
database query, so it can run on any thread (``asyncio.to_thread``) rather than on the gateway's
database thread.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from apps.core.errors import DomainError
from apps.messaging import limits
from apps.messaging.content import MEDIA_TYPES
from apps.messaging.models import ConversationKind, MessageType
from apps.tenants.models import App
from apps.webhooks import http
from apps.webhooks.models import WebhookConfig
from apps.webhooks.payloads import CONVERSATION_TYPE_NAMES
from apps.webhooks.selectors import webhook_config_for
from apps.webhooks.signing import sign_headers

logger = logging.getLogger(__name__)

CALLBACK_EVENT_TYPE = "message.before_delivery"
REJECTED = "callback_rejected"
UNAVAILABLE = "callback_unavailable"
APP_CODE = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
REASON_MAX = 256
REWRITABLE = ("text", "ext", "custom")


class CallbackRefused(DomainError):
    """A message refused by the app's callback (or by its absence, when fail-closed)."""

    http_status = 403


@dataclass(frozen=True)
class CallbackDecision:
    allow: bool
    # The content to store: the original, or the app server's rewrite of it.
    content_body: dict[str, Any] = field(default_factory=dict)
    rewritten: bool = False
    # When refused: REJECTED (the app server said no) or UNAVAILABLE (no usable answer, fail-closed).
    code: str = ""
    reason: str = ""
    # The app server's own code for a rejection, passed on to the sender as is.
    app_code: str = ""
    # Why the callback could not be used (timeouts, bad answers), allowed or not.
    error: str = ""

    def refusal(self) -> CallbackRefused:
        """The error a transport reports for a refused message."""
        return CallbackRefused(self.reason or "The app's server refused this message.", code=self.code)


class _BadAnswer(Exception):
    pass


def _rewrite(body: dict[str, Any], rewrite: Any, message_type: int | None) -> dict[str, Any]:
    """The content with the app server's rewrite applied, checked like a client's content."""
    if not isinstance(rewrite, dict) or not rewrite or set(rewrite) - set(REWRITABLE):
        raise _BadAnswer(f"rewrite must be an object with some of {', '.join(REWRITABLE)}")
    out = dict(body)
    takes_text = "text" in body or message_type in {MessageType.TEXT, MessageType.TIP, *MEDIA_TYPES}
    for name, value in rewrite.items():
        if not isinstance(value, str):
            raise _BadAnswer(f"rewrite.{name} must be a string")
        if name == "text":
            if not takes_text:
                raise _BadAnswer("rewrite.text on a message without text")
            if not value.strip() or len(value) > limits.TEXT_MAX_CHARS:
                raise _BadAnswer(f"rewrite.text is 1 to {limits.TEXT_MAX_CHARS} characters, not blank")
        elif name == "custom":
            if "custom" not in body:
                raise _BadAnswer("rewrite.custom on a message that is not custom")
            if len(value) > limits.CUSTOM_MAX_CHARS:
                raise _BadAnswer(f"rewrite.custom has at most {limits.CUSTOM_MAX_CHARS} characters")
            try:
                json.loads(value)
            except ValueError:
                raise _BadAnswer("rewrite.custom must be a JSON document") from None
        elif len(value) > limits.EXT_MAX_CHARS:
            raise _BadAnswer(f"rewrite.ext has at most {limits.EXT_MAX_CHARS} characters")
        if name == "ext" and not value:
            out.pop("ext", None)
        else:
            out[name] = value
    return out


def _decide(answer: bytes, body: dict[str, Any], message_type: int | None) -> CallbackDecision:
    try:
        parsed = json.loads(answer)
    except ValueError:
        raise _BadAnswer("the answer is not JSON") from None
    if not isinstance(parsed, dict) or not isinstance(parsed.get("allow"), bool):
        raise _BadAnswer('the answer must be an object with a boolean "allow"')
    if not parsed["allow"]:
        app_code = parsed.get("code")
        reason = parsed.get("reason")
        return CallbackDecision(
            allow=False,
            content_body=body,
            code=REJECTED,
            app_code=app_code if isinstance(app_code, str) and APP_CODE.fullmatch(app_code) else "",
            reason=reason[:REASON_MAX] if isinstance(reason, str) else "",
        )
    if parsed.get("rewrite") is None:
        return CallbackDecision(allow=True, content_body=body)
    return CallbackDecision(
        allow=True, content_body=_rewrite(body, parsed["rewrite"], message_type), rewritten=True
    )


def webhook_before_delivery(
    *,
    app: App,
    sender_accid: str,
    conversation_type: int,
    target: str,
    content_body: dict[str, Any],
    message_type: int | None = None,
    client_msg_id: str = "",
    config: WebhookConfig | None = None,
) -> CallbackDecision:
    """Ask the app's server about a message before it is stored; allow at once if it set no
    callback URL. ``content_body`` is the checked content (``content_to_body``); ``config`` saves
    the query for the app's webhook configuration."""
    config = config if config is not None else webhook_config_for(app=app)
    if not config.callback_url:
        return CallbackDecision(allow=True, content_body=content_body)
    request: dict[str, Any] = {
        "type": CALLBACK_EVENT_TYPE,
        "app_key": app.app_key,
        "from": sender_accid,
        "conversation_type": CONVERSATION_TYPE_NAMES.get(ConversationKind(conversation_type), "")
        if conversation_type in ConversationKind.values
        else str(conversation_type),
        "to": target,
        "message_type": MessageType(message_type).label if message_type in MessageType.values else None,
        "client_msg_id": client_msg_id,
        "content": content_body,
        "server_time": int(time.time() * 1000),
    }
    payload = json.dumps(request, ensure_ascii=False, separators=(",", ":")).encode()
    headers = sign_headers(
        app_key=app.app_key,
        secret=app.secret,
        body=payload,
        event_id=str(uuid.uuid4()),
        event_type=CALLBACK_EVENT_TYPE,
    )
    result = http.post(
        url=config.callback_url, body=payload, headers=headers, timeout=config.callback_timeout_ms / 1000
    )
    try:
        if not result.ok:
            raise _BadAnswer(result.error or f"HTTP {result.status}")
        decision = _decide(result.body, content_body, message_type)
    except _BadAnswer as exc:
        return _unavailable(app=app, fail_open=config.callback_fail_open, body=content_body, error=str(exc))
    if not decision.allow:
        logger.info(
            "callback rejected a message", extra={"app_key": app.app_key, "app_code": decision.app_code}
        )
    return decision


def _unavailable(*, app: App, fail_open: bool, body: dict[str, Any], error: str) -> CallbackDecision:
    logger.warning(
        "before-delivery callback unusable",
        extra={"app_key": app.app_key, "error": error, "fail_open": fail_open},
    )
    if fail_open:
        return CallbackDecision(allow=True, content_body=body, error=error)
    return CallbackDecision(
        allow=False,
        content_body=body,
        code=UNAVAILABLE,
        reason="The app's server did not answer in time; try again later.",
        error=error,
    )
