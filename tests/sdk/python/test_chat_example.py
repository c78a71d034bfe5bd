"""The terminal chat example, run as two real processes against a live stack."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from tests.markers import requires_services
from tests.sdk.python.cloud import Cloud

pytestmark = [pytest.mark.live, requires_services]

CHAT = Path(__file__).resolve().parents[3] / "sdk_clients" / "python" / "examples" / "chat.py"


class Terminal:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []

    async def expect(self, fragment: str, timeout: float = 30.0) -> str:
        assert self.process.stdout is not None
        async with asyncio.timeout(timeout):
            while True:
                for line in self.lines:
                    if fragment in line:
                        return line
                raw = await self.process.stdout.readline()
                if not raw:
                    raise AssertionError(f"exited before printing {fragment!r}: {self.lines}")
                self.lines.append(raw.decode().rstrip("\n"))

    async def type(self, text: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(text.encode() + b"\n")
        await self.process.stdin.drain()

    async def quit(self) -> int:
        assert self.process.stdin is not None
        self.process.stdin.close()
        async with asyncio.timeout(20):
            return await self.process.wait()


async def _terminal(cloud: Cloud, accid: str, to: str) -> Terminal:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(CHAT),
        "--app-key",
        cloud.app_key,
        "--accid",
        accid,
        "--token",
        cloud.tokens[accid],
        "--to",
        to,
        "--lbs",
        cloud.lbs_url,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    return Terminal(process)


async def test_a_line_typed_in_one_terminal_appears_in_the_other(cloud: Cloud):
    alice = await _terminal(cloud, "alice", "bob")
    bob = await _terminal(cloud, "bob", "alice")
    try:
        await alice.expect("* logged in as alice")
        await bob.expect("* logged in as bob")
        await alice.type("hello from the terminal")
        assert (await bob.expect("hello from the terminal")).endswith("alice: hello from the terminal")
        await bob.type("hi alice")
        assert (await alice.expect("hi alice")).endswith("bob: hi alice")
        assert await alice.quit() == 0
        assert await bob.quit() == 0
        assert not [line for line in alice.lines + bob.lines if line.startswith("!")]
    finally:
        for terminal in (alice, bob):
            if terminal.process.returncode is None:
                terminal.process.kill()
                await terminal.process.wait()
