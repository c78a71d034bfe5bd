"""Where a client keeps what it learned across app restarts: the sync cursor, the seq handed to the
app per conversation, and the heartbeat learned per network.

A store maps a key to one JSON-serialisable document. The client reads at login and writes in
batches from a worker thread (`store_flush_interval`), never while handing a message over.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Any, Protocol

Document = dict[str, Any]


class StateStore(Protocol):
    def load(self, key: str) -> Document | None:
        """The document last saved under `key`, or None. May be called from a worker thread."""
        ...

    def save(self, key: str, document: Document) -> None:
        """Replace the document under `key`. Called from a worker thread."""
        ...


class MemoryStore:
    """For the life of the process: share one between Client instances to carry state over."""

    def __init__(self) -> None:
        self._documents: dict[str, str] = {}
        self._lock = threading.Lock()

    def load(self, key: str) -> Document | None:
        with self._lock:
            text = self._documents.get(key)
        return None if text is None else dict(json.loads(text))

    def save(self, key: str, document: Document) -> None:
        # Kept serialised, so a later change to the caller's dict cannot leak in.
        text = json.dumps(document, sort_keys=True)
        with self._lock:
            self._documents[key] = text


class FileStore:
    """One JSON file holding every key; each save replaces it atomically (write, fsync, rename), so a
    crash leaves the old file or the new one, never half of one."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def _read(self) -> Document:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except ValueError:
            return {}  # unreadable: start afresh rather than refuse to run
        return data if isinstance(data, dict) else {}

    def load(self, key: str) -> Document | None:
        with self._lock:
            value = self._read().get(key)
        return dict(value) if isinstance(value, dict) else None

    def save(self, key: str, document: Document) -> None:
        with self._lock:
            data = self._read()
            data[key] = document
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as file:
                    json.dump(data, file, sort_keys=True)
                    file.flush()
                    os.fsync(file.fileno())
                os.replace(tmp, self.path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
