"""The app server's before-delivery callback, applied to a send before it is stored.

Yunxin's "callback before delivery": when an app sets a callback URL, every message is first
POSTed there (2 s, signed); the app server may allow it, refuse it, or rewrite text/ext/custom.
The app's webhook configuration is cached for a few seconds per process, so apps without a
callback pay nothing per message.
"""

from __future__ import annotations

import dataclasses
import time

from apps.imusers.models import ImUser
from apps.messaging.content import MessageContent, content_to_body
from apps.tenants.models import App
from apps.webhooks.callback import webhook_before_delivery
from apps.webhooks.models import WebhookConfig
from apps.webhooks.selectors import webhook_config_for

CONFIG_TTL_SECONDS = 5.0
_configs: dict[int, tuple[float, WebhookConfig]] = {}


def cached_callback_config(*, app_id: int) -> WebhookConfig | None:
    """The cached configuration if it is fresh (no query), else None."""
    cached = _configs.get(app_id)
    if cached is None or time.monotonic() - cached[0] > CONFIG_TTL_SECONDS:
        return None
    return cached[1]


def callback_config(*, app: App) -> WebhookConfig:
    config = cached_callback_config(app_id=app.pk)
    if config is None:
        config = webhook_config_for(app=app)
        _configs[app.pk] = (time.monotonic(), config)
    return config


def message_checked_by_app_server(
    *,
    app: App,
    sender: ImUser,
    conversation_type: int,
    target: str,
    client_msg_id: str,
    content: MessageContent,
    config: WebhookConfig,
) -> MessageContent:
    """The content to store: as sent, or as the app server rewrote it; raises when it refuses."""
    if not config.callback_url:
        return content
    decision = webhook_before_delivery(
        app=app,
        sender_accid=sender.accid,
        conversation_type=conversation_type,
        target=target,
        content_body=content_to_body(content),
        message_type=content.type,
        client_msg_id=client_msg_id,
        config=config,
    )
    if not decision.allow:
        raise decision.refusal()
    if not decision.rewritten:
        return content
    body = decision.content_body
    return dataclasses.replace(
        content,
        text=body.get("text", content.text),
        custom=body.get("custom", content.custom),
        ext=body.get("ext", content.ext),
    )


def forget_callback_configs() -> None:
    """Drop the cache (tests; and a process that must see a change at once)."""
    _configs.clear()
