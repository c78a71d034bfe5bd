from __future__ import annotations

import pytest
from django.test import Client

from apps.accounts.models import Developer
from apps.tenants.models import App
from tests.factories import AppFactory, DeveloperFactory


@pytest.fixture
def developer(db: None) -> Developer:
    developer: Developer = DeveloperFactory()
    return developer


@pytest.fixture
def app(developer: Developer) -> App:
    app: App = AppFactory(owner=developer, name="Chat Demo")
    return app


@pytest.fixture
def console(client: Client, developer: Developer) -> Client:
    """A browser session signed in as ``developer``."""
    client.force_login(developer)
    return client
