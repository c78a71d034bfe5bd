from __future__ import annotations

import io
import re

import pytest
from django.core.management import call_command
from django.test import Client

from apps.api import urls as api_urls

pytestmark = pytest.mark.django_db

HANDLERS = ("get", "post", "put", "patch", "delete")


def _routed_operations() -> set[tuple[str, str]]:
    """Every (path, method) the API routes to a handler, from the URLconf itself."""
    found = set()
    for pattern in api_urls.urlpatterns:
        view = pattern.callback.cls  # type: ignore[attr-defined]
        if pattern.name in {"schema", "docs"}:
            continue
        path = "/api/v1/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", str(pattern.pattern))
        found |= {(path, method) for method in HANDLERS if hasattr(view, method)}
    return found


def test_the_schema_is_openapi_3_and_lists_every_operation():
    schema = Client().get("/api/v1/schema/", {"format": "json"}).json()
    found = {(path, method) for path, item in schema["paths"].items() for method in item}
    assert schema["openapi"].startswith("3.")
    assert found == _routed_operations()
    assert len(found) >= 28  # users 7, teams 13, messages and conversations 7, lbs 1
    assert set(schema["components"]["securitySchemes"]) == {"AppKey", "Nonce", "CurTime", "CheckSum"}


def test_the_schema_generates_without_warnings():
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=io.StringIO())


def test_swagger_ui_is_served_from_our_own_static_files():
    page = Client().get("/api/v1/docs/").content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in page
    assert (
        Client().get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js").status_code
        == 200
    )
