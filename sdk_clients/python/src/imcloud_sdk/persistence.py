"""Reads and batched writes of the client's saved state through a StateStore, off the event loop.

The client hands over a snapshot every `store_flush_interval` and on close(); only documents that
changed since the last write are written, one write at a time, in a worker thread, so a slow disk
never delays a message and an older snapshot never overwrites a newer one.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from imcloud_sdk.log import ClientLog
from imcloud_sdk.store import Document, StateStore

HEARTBEAT_KEY = "heartbeat"


def session_key(app_key: str, accid: str) -> str:
    """The document of one user of one app: the cursor and the per-conversation positions."""
    return f"session:{app_key}:{accid}"


def conversation_id(conversation_type: int, target: str) -> str:
    return f"{conversation_type}:{target}"


def parse_conversation_id(text: str) -> tuple[int, str] | None:
    kind, sep, target = text.partition(":")
    if not sep or not kind.isdigit():
        return None
    return int(kind), target


class StateKeeper:
    def __init__(self, store: StateStore, log: ClientLog) -> None:
        self._store = store
        self._log = log
        self._saved: dict[str, Document] = {}
        self._writing: asyncio.Future[None] | None = None

    async def load(self, key: str) -> Document | None:
        try:
            document = await asyncio.to_thread(self._store.load, key)
        except Exception as exc:  # a broken store must not stop the client from running
            self._log.warning("store_load_failed", key=key, error=repr(exc))
            return None
        if document is not None:
            self._saved[key] = document
        return document

    async def save(self, documents: dict[str, Document]) -> None:
        changed = {key: doc for key, doc in documents.items() if self._saved.get(key) != doc}
        if not changed:
            return
        if self._writing is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._writing)
        self._writing = asyncio.ensure_future(asyncio.to_thread(self._write, changed))
        await asyncio.shield(self._writing)

    def _write(self, documents: dict[str, Document]) -> None:
        for key, document in documents.items():
            try:
                self._store.save(key, document)
            except Exception as exc:
                self._log.warning("store_save_failed", key=key, error=repr(exc))
                continue
            self._saved[key] = document


def delivered_document(cursor: str, delivered: dict[tuple[int, str], int]) -> dict[str, Any]:
    return {
        "cursor": cursor,
        "delivered": {
            conversation_id(kind, target): seq for (kind, target), seq in sorted(delivered.items())
        },
    }
