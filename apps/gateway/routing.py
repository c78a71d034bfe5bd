"""WebSocket routes. The gateway protocol itself lands with the messaging core (issue 3)."""

from __future__ import annotations

from channels.generic.websocket import AsyncWebsocketConsumer
from django.urls import path


class GatewayUnavailableConsumer(AsyncWebsocketConsumer):
    """Refuses the handshake until the gateway protocol exists, so clients fail fast and clearly."""

    async def connect(self) -> None:
        await self.close()


websocket_urlpatterns = [path("ws", GatewayUnavailableConsumer.as_asgi())]
