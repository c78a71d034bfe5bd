"""Developers: the people who sign in to the console and own apps. Their login is their email."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.utils import timezone


class DeveloperManager(BaseUserManager["Developer"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> Developer:
        if not email:
            raise ValueError("a developer needs an email")
        developer = self.model(email=self.normalize_email(email).lower(), **extra)
        developer.set_password(password)
        developer.save(using=self._db)
        return developer

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> Developer:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class Developer(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField(unique=True, max_length=254)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)

    objects: ClassVar[DeveloperManager] = DeveloperManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    def __str__(self) -> str:
        return self.email
