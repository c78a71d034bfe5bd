from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.test import Client

pytestmark = pytest.mark.django_db

OPERATIONS = {
    ("/api/v1/users", "get"),
    ("/api/v1/users", "post"),
    ("/api/v1/users/{accid}", "get"),
    ("/api/v1/users/{accid}", "patch"),
    ("/api/v1/users/{accid}/token", "post"),
    ("/api/v1/users/{accid}/block", "post"),
    ("/api/v1/users/{accid}/unblock", "post"),
}


def test_the_schema_is_openapi_3_and_lists_every_operation():
    schema = Client().get("/api/v1/schema/", {"format": "json"}).json()
    found = {(path, method) for path, item in schema["paths"].items() for method in item}
    assert schema["openapi"].startswith("3.")
    assert found == OPERATIONS
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
