"""The imcloud Python SDK: `client = Client(ClientOptions(app_key=..., lbs_url=...))`, then
`await client.login(accid, token)`; docs/sdk.md has the rest."""

from __future__ import annotations

from imcloud_sdk._generated import imcloud_pb2 as pb
from imcloud_sdk.client import Client
from imcloud_sdk.errors import ImError
from imcloud_sdk.events import ConnectionState
from imcloud_sdk.options import SDK_VERSION, ClientOptions
from imcloud_sdk.store import FileStore, MemoryStore, StateStore

__version__ = SDK_VERSION
__all__ = [
    "Client",
    "ClientOptions",
    "ConnectionState",
    "FileStore",
    "ImError",
    "MemoryStore",
    "StateStore",
    "pb",
]
