"""Teams (group chats). A team is a team conversation plus its profile: the team id is the
conversation id, and membership, roles and mutes live on ConversationMember rows."""

from __future__ import annotations

from django.db import models

from apps.imusers.models import ImUser
from apps.messaging.models import Conversation
from apps.tenants.models import App


class Team(models.Model):
    conversation = models.OneToOneField(
        Conversation, primary_key=True, on_delete=models.CASCADE, related_name="team"
    )
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="teams")
    name = models.CharField(max_length=64)
    owner = models.ForeignKey(ImUser, on_delete=models.PROTECT, related_name="+")
    intro = models.CharField(max_length=512, blank=True, default="")
    announcement = models.CharField(max_length=1024, blank=True, default="")
    icon = models.CharField(max_length=1024, blank=True, default="")
    ext = models.CharField(max_length=1024, blank=True, default="")
    max_members = models.PositiveIntegerField(default=200)
    member_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"team {self.pk} {self.name}"
