"""The gateway processes living in this OS process, by channel name.

Publishers use it to hand a delivery straight to a local process instead of a channel-layer hop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from apps.gateway.process import GatewayProcess

_by_channel: dict[str, GatewayProcess] = {}


def remember(channel: str, process: GatewayProcess) -> None:
    _by_channel[channel] = process


def forget(channel: str) -> None:
    _by_channel.pop(channel, None)


def local_process(channel: str) -> GatewayProcess | None:
    """The process behind ``channel`` if it lives in this OS process and its loop still runs."""
    process = _by_channel.get(channel)
    if process is None or process.loop.is_closed():
        return None
    return process
