from __future__ import annotations

import pytest

from apps.teams.models import Team
from apps.teams.services import team_create
from tests.factories import AppFactory, ImUserFactory
from tests.signing import SignedClient
from tests.teams_factories import fresh, make_managers


@pytest.fixture
def client() -> SignedClient:
    return SignedClient(AppFactory())


@pytest.fixture
def team(client: SignedClient) -> Team:
    """In the client's app: owner, manager "boss", members "m1" and "m2"; user "stranger" outside."""
    for accid in ("owner", "boss", "m1", "m2", "stranger"):
        ImUserFactory(app=client.app, accid=accid)
    created = team_create(app=client.app, owner="owner", name="Crew", members=["boss", "m1", "m2"])
    make_managers(created, "boss")
    return fresh(created)


@pytest.fixture
def url(team: Team) -> str:
    return f"/api/v1/teams/{team.pk}"
