"""Provision the bench database fast: users in bulk, then teams through the team services.

Run by bench/run.py as a child process with the bench's DATABASE_URL; prints one JSON object.
Users are bulk-inserted with the project's own token hashing (apps.imusers.tokens), one shared
token for all of them, so that 20,000 users take seconds and not minutes of REST calls. Teams go
through apps.teams.services (team_create, then team_add_members in chunks of its per-call cap);
if that module is missing, the team conversation and its member rows are written directly.

    DATABASE_URL=... python bench/provision.py --app-key K --users 20000 --teams 1000,10000
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

# The server code under test: the working directory when bench/run.py --source names another tree.
sys.path.insert(0, os.environ.get("IMCLOUD_BENCH_SOURCE") or str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imcloud.settings")

import django

django.setup()

from django.db import transaction  # noqa: E402

from apps.imusers.models import ImUser  # noqa: E402
from apps.imusers.tokens import token_hash, token_new_salt  # noqa: E402
from apps.messaging.clock import now_ms  # noqa: E402
from apps.messaging.models import Conversation, ConversationKind, ConversationMember, MemberRole  # noqa: E402
from apps.tenants.models import App  # noqa: E402

TOKEN = "bench-token-0123456789abcdef"  # noqa: S105 - a throwaway database's shared test token


ACCID_FORMAT = "u{:06d}"


def accid(index: int) -> str:
    return ACCID_FORMAT.format(index)


def create_users(app: App, count: int) -> None:
    batch: list[ImUser] = []
    for index in range(count):
        salt = token_new_salt()
        batch.append(
            ImUser(
                app=app, accid=accid(index), token_salt=salt, token_hash=token_hash(token=TOKEN, salt=salt)
            )
        )
        if len(batch) == 5000:
            ImUser.objects.bulk_create(batch)
            batch = []
    if batch:
        ImUser.objects.bulk_create(batch)


def create_team_services(app: App, members: list[str]) -> str:
    from apps.teams import limits, services

    chunk = limits.ACCIDS_PER_CALL_MAX
    team = services.team_create(
        app=app,
        owner=members[0],
        name=f"bench {len(members)}",
        members=members[1:chunk],
        max_members=max(len(members), limits.TEAM_MEMBERS_MIN),
    )
    team_id = str(team.pk)
    for start in range(chunk, len(members), chunk):
        services.team_add_members(
            app=app, team_id=team_id, operator=members[0], accids=members[start : start + chunk]
        )
    return team_id


def create_team_rows(app: App, members: list[str]) -> str:
    """Without the team services: the team conversation and its members, written directly."""
    users = dict(ImUser.objects.filter(app=app, accid__in=members).values_list("accid", "pk"))
    stamp = now_ms()
    with transaction.atomic():
        conversation = Conversation.objects.create(app=app, kind=ConversationKind.TEAM, updated_ms=stamp)
        ConversationMember.objects.bulk_create(
            [
                ConversationMember(
                    app=app,
                    conversation=conversation,
                    user_id=users[name],
                    role=MemberRole.OWNER if i == 0 else MemberRole.MEMBER,
                    joined_seq=0,
                    updated_ms=stamp,
                )
                for i, name in enumerate(members)
            ],
            batch_size=5000,
        )
    return str(conversation.pk)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--app-key", required=True)
    parser.add_argument("--users", type=int, required=True)
    parser.add_argument("--teams", default="", help="comma-separated team sizes; members are u0.. in order")
    args = parser.parse_args()
    started = time.monotonic()
    app = App.objects.get(app_key=args.app_key)
    create_users(app, args.users)
    users_s = time.monotonic() - started
    teams: dict[str, str] = {}
    how = "apps.teams.services"
    for size in [int(s) for s in args.teams.split(",") if s]:
        members = [accid(i) for i in range(size)]
        try:
            teams[str(size)] = create_team_services(app, members)
        except ImportError:
            how = "direct rows (apps.teams.services missing)"
            teams[str(size)] = create_team_rows(app, members)
    print(
        json.dumps(
            {
                "token": TOKEN,
                "accid_format": ACCID_FORMAT,
                "users": args.users,
                "teams": teams,
                "teams_created_by": how,
                "users_seconds": round(users_s, 2),
                "seconds": round(time.monotonic() - started, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
