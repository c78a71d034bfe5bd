"""Conversations, their members and their messages.

A conversation is one ordered stream: every message (and every recall notice) takes the next
``seq`` of its conversation, assigned in the transaction that stores it, so a stream has no gaps
and commits in seq order (the conversation row lock is held until commit). Clients keep the last
seq they hold per conversation and ask for what follows.
"""

from __future__ import annotations

from django.db import models

from apps.imusers.models import ImUser
from apps.tenants.models import App


class ConversationKind(models.IntegerChoices):
    # Values match imcloud.v1.ConversationType.
    P2P = 1, "one-to-one"
    TEAM = 2, "team"


class MemberRole(models.IntegerChoices):
    MEMBER = 0, "member"
    MANAGER = 1, "manager"
    OWNER = 2, "owner"


class MessageType(models.IntegerChoices):
    # Values match imcloud.v1.MessageType.
    TEXT = 1, "text"
    IMAGE = 2, "image"
    AUDIO = 3, "audio"
    VIDEO = 4, "video"
    FILE = 5, "file"
    LOCATION = 6, "location"
    CUSTOM = 7, "custom"
    TIP = 8, "tip"
    RECALL = 9, "recall"


class Conversation(models.Model):
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="conversations")
    kind = models.PositiveSmallIntegerField(choices=ConversationKind.choices)
    # One-to-one: the two users, lower id first, so a pair has exactly one conversation.
    user_low = models.ForeignKey(ImUser, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    user_high = models.ForeignKey(ImUser, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    last_seq = models.BigIntegerField(default=0)
    # Milliseconds of the last change to the stream: the conversation-list sync cursor compares it.
    # Not indexed, like last_seq: every message moves both, and with no index on either PostgreSQL
    # updates the row in place (a HOT update) instead of adding an entry to every index.
    updated_ms = models.BigIntegerField(default=0)
    # Team conversations: nobody but owner and managers may post while set.
    mute_all = models.BooleanField(default=False)
    closed = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["app", "user_low", "user_high"],
                condition=models.Q(kind=ConversationKind.P2P),
                name="conversation_p2p_pair_unique",
            )
        ]

    def __str__(self) -> str:
        return f"conversation {self.pk} ({self.get_kind_display()})"


class ConversationMember(models.Model):
    """A user's place in a conversation: their read position, and in teams their role and mute."""

    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(ImUser, on_delete=models.CASCADE, related_name="memberships")
    role = models.PositiveSmallIntegerField(choices=MemberRole.choices, default=MemberRole.MEMBER)
    muted = models.BooleanField(default=False)
    # The member's own choice: no offline push for this conversation (per-conversation / per-team mute).
    push_muted = models.BooleanField(default=False)
    read_seq = models.BigIntegerField(default=0)
    # Team members see the stream from the seq at which they joined.
    joined_seq = models.BigIntegerField(default=0)
    joined_at = models.DateTimeField(auto_now_add=True)
    # Milliseconds of the last change to this member's own state (read position, role). Not
    # indexed (see Conversation.updated_ms): the sync compares it with the conversation's, per user.
    updated_ms = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["conversation", "user"], name="member_conversation_user_unique")
        ]
        indexes = [
            models.Index(fields=["conversation", "role"]),
        ]

    def __str__(self) -> str:
        return f"member {self.user_id} of {self.conversation_id}"


class Message(models.Model):
    # No single-column indexes on app and conversation: the unique (app, sender, client_msg_id) and
    # (conversation, seq) indexes lead with them and serve those lookups. Every index is work on
    # each stored message (two fewer of six: docs/performance.md).
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="+", db_index=False)
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages", db_index=False
    )
    seq = models.BigIntegerField()
    sender = models.ForeignKey(ImUser, on_delete=models.CASCADE, related_name="+")
    client_msg_id = models.CharField(max_length=64)
    type = models.PositiveSmallIntegerField(choices=MessageType.choices)
    # Type-specific content: text, attachment, location, custom, ext (see apps/messaging/content.py).
    body = models.JSONField(default=dict)
    created_ms = models.BigIntegerField()
    recalled = models.BooleanField(default=False)
    # On RECALL notices: the seq of the message they recall.
    recalled_seq = models.BigIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["conversation", "seq"], name="message_conversation_seq_unique"),
            # Idempotent sends: a retried client_msg_id finds the original instead of a copy.
            models.UniqueConstraint(
                fields=["app", "sender", "client_msg_id"], name="message_sender_client_id_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"message {self.conversation_id}#{self.seq}"
