"""ASGI scope extensions the gateway understands (servers advertise them in ``scope["extensions"]``).

``imcloud.websocket.write``: a plain callable ``write(data: bytes | str) -> None`` that sends one
WebSocket message at once, in order with everything the application sent before it, and does
nothing once the connection is no longer open. ``apps.gateway.daphne_server`` offers it; the
gateway then writes pushes with one call instead of an awaited ``websocket.send`` event each,
which is most of a large team's fan-out cost. Under a server without it, ``websocket.send`` is used.
"""

WEBSOCKET_WRITE = "imcloud.websocket.write"
