"""Group commit pacing: an idle writer stores a send at once; a busy one starts its next batch no
sooner than the interval after the previous one began, with everything that arrived meanwhile."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from apps.gateway import batching
from apps.messaging.sending import SendRequest, SendResult
from tests.factories import send_request

INTERVAL_MS = 400


def _request(app: Any, sender: Any, client_msg_id: str) -> SendRequest:
    return send_request(app=app, sender=sender, target="bob", client_msg_id=client_msg_id, text=client_msg_id)


@pytest.mark.django_db(transaction=True)
async def test_a_busy_writer_waits_out_the_interval_and_takes_all_that_arrived(
    app: Any, users: Any, settings: Any, monkeypatch: Any
) -> None:
    settings.IMCLOUD = {**settings.IMCLOUD, "GATEWAY_BATCH_INTERVAL_MS": INTERVAL_MS}
    starts: list[float] = []
    sizes: list[int] = []
    real = batching.message_send_many

    def recorded(**kwargs: Any) -> Any:
        starts.append(time.monotonic())
        sizes.append(len(kwargs["requests"]))
        return real(**kwargs)

    monkeypatch.setattr(batching, "message_send_many", recorded)
    batcher = batching.SendBatcher(asyncio.get_running_loop())
    alice = users["alice"]
    submitted = time.monotonic()
    first = await batcher.submit(_request(app, alice, "c-0"))
    rest = await asyncio.gather(*(batcher.submit(_request(app, alice, f"c-{n}")) for n in range(1, 6)))
    batcher._router.cancel()
    assert sizes == [1, 5]
    # Idle: no wait (far less than the interval); busy: the second batch waited for it.
    assert starts[0] - submitted < INTERVAL_MS / 2000
    assert starts[1] - starts[0] >= INTERVAL_MS / 1000
    outcomes = [first, *rest]
    assert all(isinstance(o, SendResult) for o in outcomes)
    assert [o.message.seq for o in outcomes if isinstance(o, SendResult)] == [1, 2, 3, 4, 5, 6]
