"""Fixtures for the message endpoints: one app, its signed client, a few users, and team helpers."""

from __future__ import annotations

from typing import Any

import pytest

from apps.imusers.models import ImUser
from apps.messaging.models import Conversation, ConversationKind, ConversationMember, MemberRole
from apps.tenants.models import App
from tests.factories import AppFactory, ImUserFactory
from tests.signing import SignedClient


@pytest.fixture
def api() -> SignedClient:
    return SignedClient(AppFactory())


@pytest.fixture
def alice(api: SignedClient) -> ImUser:
    return ImUserFactory(app=api.app, accid="alice")


@pytest.fixture
def bob(api: SignedClient) -> ImUser:
    return ImUserFactory(app=api.app, accid="bob")


@pytest.fixture
def carol(api: SignedClient) -> ImUser:
    return ImUserFactory(app=api.app, accid="carol")


def make_team(app: App, owner: ImUser, *members: ImUser, muted: tuple[ImUser, ...] = ()) -> Conversation:
    """A team conversation built directly: the owner plus members, some of them muted."""
    team = Conversation.objects.create(app=app, kind=ConversationKind.TEAM)
    ConversationMember.objects.create(app=app, conversation=team, user=owner, role=MemberRole.OWNER)
    for user in members:
        ConversationMember.objects.create(app=app, conversation=team, user=user, muted=user in muted)
    return team


def text(sender: str, to: str, words: str = "hello", **extra: Any) -> dict[str, Any]:
    """The body of a one-to-one text message."""
    return {"from": sender, "conversation_type": "p2p", "to": to, "type": "text", "text": words, **extra}


def send(api: SignedClient, sender: str, to: str, words: str = "hello", **extra: Any) -> dict[str, Any]:
    """Send a new text message and return the response body."""
    response = api.post("/api/v1/messages", text(sender, to, words, **extra))
    assert response.status_code == 201, response.json()
    body: dict[str, Any] = response.json()
    return body
