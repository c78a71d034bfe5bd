"""ASGI entry point: HTTP goes to Django, WebSocket to the gateway."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imcloud.settings")

# Django must be set up before anything imports models, so this comes first.
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from apps.gateway.routing import websocket_urlpatterns  # noqa: E402

# No Origin check on purpose: SDK clients are not browsers, and customers' web apps connect from
# their own origins. A socket is authorised by its login frame (app key, accid, token), not a cookie.
application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": URLRouter(websocket_urlpatterns),
    }
)
