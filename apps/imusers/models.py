"""End users ("accounts" in Yunxin's words): provisioned by an app's server, identified by accid."""

from __future__ import annotations

from django.db import models

from apps.tenants.models import App


class ImUser(models.Model):
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="imusers")
    accid = models.CharField(max_length=32)
    name = models.CharField(max_length=64, blank=True, default="")
    avatar = models.CharField(max_length=1024, blank=True, default="")
    ext = models.CharField(max_length=1024, blank=True, default="")

    # The token is never stored: only a salted SHA-256 of it (see apps/imusers/tokens.py).
    token_salt = models.CharField(max_length=32)
    token_hash = models.CharField(max_length=64)
    # Bumped on every token change and block, so live sessions can tell they are stale.
    credentials_version = models.PositiveIntegerField(default=1)

    is_blocked = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["app", "accid"], name="imuser_app_accid_unique")]

    def __str__(self) -> str:
        return f"{self.accid}@{self.app_id}"
