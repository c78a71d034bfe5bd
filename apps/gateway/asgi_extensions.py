"""ASGI scope extensions the gateway understands (servers advertise them in ``scope["extensions"]``).

``imcloud.websocket.write``: a plain callable ``write(data: bytes | str) -> None`` that sends one
WebSocket message at once, in order with everything the application sent before it, and does
nothing once the connection is no longer open. ``apps.gateway.daphne_server`` offers it; the
gateway then writes pushes with one call instead of an awaited ``websocket.send`` event each,
which is most of a large team's fan-out cost. Under a server without it, ``websocket.send`` is used.

``imcloud.websocket.fanout``: ``{"writer": handle, "write_many": write_many}``, where ``handle`` is
an opaque object standing for this connection and ``write_many(handles, data)`` sends one message
to every connection in ``handles`` (the handles of one server process, which all offer the same
``write_many``), with the same guarantees as ``write`` for each. The gateway hands a team's
message to all its local members in one call: per delivery, the calls between the gateway's loop
and the socket cost more than the system call that writes it.
"""

WEBSOCKET_WRITE = "imcloud.websocket.write"
WEBSOCKET_FANOUT = "imcloud.websocket.fanout"
