"""``manage.py create_app``: a developer (if absent) and an app, printed as one JSON object."""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from apps.accounts.selectors import developer_get_by_email
from apps.accounts.services import developer_create
from apps.core.errors import DomainError
from apps.tenants.services import app_create


class Command(BaseCommand):
    help = "Create a developer (if absent) and an app; print {app_key, app_secret, ...} as JSON."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--owner-email", required=True)
        parser.add_argument("--name", required=True)
        parser.add_argument(
            "--password",
            help="Password for a new developer; without it the developer sets one by password reset.",
        )

    def handle(self, *args: Any, owner_email: str, name: str, password: str | None, **options: Any) -> None:
        try:
            with transaction.atomic():
                owner = developer_get_by_email(email=owner_email)
                created_owner = owner is None
                if owner is None:
                    owner = developer_create(email=owner_email, password=password)
                app = app_create(owner=owner, name=name)
        except DomainError as exc:
            raise CommandError(f"{exc.code}: {exc.detail}") from exc
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(
            json.dumps(
                {
                    "app_key": app.app_key,
                    "app_secret": app.secret,
                    "name": app.name,
                    "owner_email": owner.email,
                    "owner_created": created_owner,
                }
            )
        )
