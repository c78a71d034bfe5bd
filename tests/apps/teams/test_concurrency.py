"""The member cap holds when adds race: the conversation row lock serialises them."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from apps.core.errors import DomainError
from apps.messaging.models import ConversationMember
from apps.teams.services import team_add_members
from tests.factories import ImUserFactory
from tests.markers import requires_postgres
from tests.teams_factories import TeamFactory, fresh

RACERS = 6


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_adds_never_exceed_max_members():
    team = TeamFactory(extra=1, max_members=4)  # room for two more
    newcomers = [u.accid for u in ImUserFactory.create_batch(RACERS, app=team.app)]
    start = threading.Barrier(RACERS)
    outcomes: list[str] = []

    def add(accid: str) -> None:
        try:
            start.wait()
            team_add_members(app=team.app, team_id=str(team.pk), operator=team.owner.accid, accids=[accid])
            outcomes.append("added")
        except DomainError as exc:
            outcomes.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=add, args=(accid,)) for accid in newcomers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["added"] * 2 + ["team_full"] * (RACERS - 2)
    assert fresh(team).member_count == 4
    assert ConversationMember.objects.filter(conversation_id=team.pk).count() == 4
