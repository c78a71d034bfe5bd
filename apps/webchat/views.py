"""The web chat page: a small end-user chat in the browser on the TypeScript SDK's bundle.

The page holds no server-side state: the app key, accid, token and peer are typed in (the app key
and LBS URL may come from the query string), and the browser talks to the gateway itself.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

APP_KEY_MAX_LENGTH = 64
URL_MAX_LENGTH = 1024


@require_GET
def chat(request: HttpRequest) -> HttpResponse:
    context = {
        "app_key": request.GET.get("appkey", "")[:APP_KEY_MAX_LENGTH],
        # Absent: the same origin's LBS; present but empty: no LBS, only the page's own gateway.
        "lbs_url": request.GET.get("lbs", "/api/v1/lbs")[:URL_MAX_LENGTH],
        "accid": request.GET.get("accid", "")[:APP_KEY_MAX_LENGTH],
        "peer": request.GET.get("peer", "")[:APP_KEY_MAX_LENGTH],
    }
    return render(request, "webchat/chat.html", context)
