"""ClientOptions: every number of the connection manager, with the default docs/sdk.md explains."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Literal

from imcloud_sdk._generated import imcloud_pb2 as pb
from imcloud_sdk.store import MemoryStore, StateStore

SDK_VERSION = "0.1.0"
CLIENT_VERSION = f"imcloud-python/{SDK_VERSION}"
PROTOCOL_VERSION = 1


@dataclass
class ClientOptions:
    app_key: str
    lbs_url: str | None = None
    endpoints: list[str] = field(default_factory=list)
    http_endpoints: list[str] = field(default_factory=list)
    # Stable per installation: persist it, or each run counts as a new device.
    device_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    platform: pb.Platform = pb.PLATFORM_LINUX
    encoding: Literal["proto", "json"] = "proto"

    # Endpoints and ranking
    lbs_timeout: float = 2.0
    lbs_retry_after: float = 30.0
    rank_history: int = 8
    ban_failures: int = 3
    ban_base: float = 360.0
    ban_step: float = 360.0
    ban_max: float = 1800.0
    rank_expiry: float = 86_400.0

    # Racing connect
    race_interval: float = 2.5
    max_in_flight: int = 3
    connect_timeout: float = 10.0

    # Reconnect ladder
    reconnect_fast_window: float = 10.0
    reconnect_fast_interval: float = 0.6
    reconnect_ladder: tuple[float, ...] = (2.0, 4.0, 8.0, 16.0, 30.0)
    reconnect_max: float = 30.0
    reconnect_max_background: float = 300.0
    reconnect_jitter: float = 0.2

    # Smart heartbeat
    heartbeat_min: float = 45.0
    heartbeat_max: float = 570.0
    heartbeat_step: float = 60.0
    heartbeat_probe_after: int = 3
    heartbeat_successes_per_step: int = 5
    heartbeat_failures_to_settle: int = 2
    heartbeat_reprobe_after: float = 7 * 86_400.0
    heartbeat_networks: int = 20
    pong_timeout: float = 8.0

    # Requests
    first_response_timeout: float = 10.0
    request_timeout: float = 40.0
    # A request refused by the server's rate limit goes again after this, doubling per refusal.
    rate_limit_delay: float = 1.0
    rate_limit_max: float = 8.0

    # Short link
    http_fallback_after: float = 15.0
    http_poll_interval: float = 3.0
    http_timeout: float = 10.0

    # Client log
    log_capacity: int = 1000

    # Saved state (cursor, per-conversation positions, learned heartbeat) across app restarts
    store: StateStore = field(default_factory=MemoryStore)
    store_flush_interval: float = 1.0

    def __post_init__(self) -> None:
        if not self.app_key:
            raise ValueError("app_key is required")
        if self.encoding not in ("proto", "json"):
            raise ValueError("encoding is 'proto' or 'json'")
        if not (self.lbs_url or self.endpoints):
            raise ValueError("give lbs_url, endpoints, or both")
        if not 0 < self.heartbeat_min <= self.heartbeat_max:
            raise ValueError("0 < heartbeat_min <= heartbeat_max")
