from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.test import Client

BUNDLE = Path(settings.BASE_DIR) / "static" / "sdk" / "imcloud-sdk.js"


def test_the_page_renders_with_the_query_string_prefilled_and_loads_the_sdk_bundle(client: Client) -> None:
    response = client.get("/webchat/", {"appkey": "k-123", "lbs": "https://lbs.example/api/v1/lbs"})
    page = response.content.decode()
    assert response.status_code == 200
    assert 'id="appkey" required value="k-123"' in page
    assert 'id="lbs" value="https://lbs.example/api/v1/lbs"' in page
    assert 'import { Client, pb } from "/static/sdk/imcloud-sdk.js"' in page
    for field in ("accid", "token", "peer", "messages", "text"):
        assert f'id="{field}"' in page


def test_without_a_query_string_the_lbs_of_this_origin_is_offered(client: Client) -> None:
    page = client.get("/webchat/").content.decode()
    assert 'id="appkey" required value=""' in page
    assert 'id="lbs" value="/api/v1/lbs"' in page


def test_query_values_are_escaped(client: Client) -> None:
    page = client.get("/webchat/", {"appkey": '"><script>alert(1)</script>'}).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&quot;&gt;&lt;script&gt;" in page


def test_only_get(client: Client) -> None:
    assert client.post("/webchat/").status_code == 405


def test_the_bundle_is_committed_and_exports_the_client(client: Client) -> None:
    text = BUNDLE.read_text()
    assert text.startswith("// @imcloud/sdk browser bundle")
    assert "export{" in text.replace(" ", "")
    assert "Client" in text
    response = client.get("/static/sdk/imcloud-sdk.js")
    assert response.status_code == 200
    assert b"".join(response.streaming_content).decode() == text  # type: ignore[attr-defined]
