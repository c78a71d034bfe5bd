"""Factories for tests: they go through the same services as production code where it matters
(secrets encrypted, tokens hashed), so a factory-made row is a row the product could have made."""

from __future__ import annotations

from typing import Any

import factory
from django.utils import timezone

from apps.accounts.models import Developer
from apps.core.crypto import encrypt_text
from apps.imusers.models import ImUser
from apps.imusers.tokens import token_hash
from apps.messaging.content import MessageContent
from apps.messaging.models import ConversationKind, MessageType
from apps.messaging.sending import SendRequest
from apps.tenants.models import App

DEFAULT_PASSWORD = "correct-horse-battery-staple"
DEFAULT_TOKEN = "token-of-the-user"


class DeveloperFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Developer
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"dev{n}@example.com")
    password = factory.django.Password(DEFAULT_PASSWORD)


class AppFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = App

    owner = factory.SubFactory(DeveloperFactory)
    name = factory.Sequence(lambda n: f"App {n}")
    app_key = factory.Faker("hexify", text="^" * 32)
    secret_rotated_at = factory.LazyFunction(timezone.now)

    class Params:
        plain_secret = factory.Faker("hexify", text="^" * 32)

    secret_ciphertext = factory.LazyAttribute(lambda o: encrypt_text(o.plain_secret))


class ImUserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ImUser

    app = factory.SubFactory(AppFactory)
    accid = factory.Sequence(lambda n: f"user{n}")
    name = factory.Faker("name")
    token_salt = "salt"

    class Params:
        token = DEFAULT_TOKEN

    token_hash = factory.LazyAttribute(lambda o: token_hash(token=o.token, salt=o.token_salt))

    @classmethod
    def _adjust_kwargs(cls, **kwargs: Any) -> dict[str, Any]:
        return kwargs


def send_request(
    *,
    app: App,
    sender: ImUser,
    target: str,
    client_msg_id: str,
    team: bool = False,
    text: str = "hi",
    **content: Any,
) -> SendRequest:
    """A text send as a transport hands it to ``message_send_many`` (one-to-one unless ``team``)."""
    return SendRequest(
        app=app,
        sender=sender,
        conversation_type=ConversationKind.TEAM if team else ConversationKind.P2P,
        target=target,
        client_msg_id=client_msg_id,
        content=MessageContent(type=MessageType.TEXT, text=text, **content),
    )
