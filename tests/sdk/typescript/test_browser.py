"""The web chat page in a real Chromium (Debian's, driven by Playwright) against a live gateway, chatting
with the Python SDK on the other gateway: the browser build of the TypeScript SDK end to end."""

from __future__ import annotations

import asyncio
import json
import urllib.parse
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from imcloud_sdk import Client, ClientOptions, pb
from playwright.async_api import Browser, Page, async_playwright, expect

from tests.live.stack import Gateways, create_users, manage, running_gateways, stack_env
from tests.markers import CHROMIUM, requires_chromium, requires_services

pytestmark = [pytest.mark.live, requires_services, requires_chromium]

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class Live:
    gateways: Gateways
    app_key: str
    tokens: dict[str, str]


@pytest.fixture
def live(tmp_path: Path, live_database: str, live_redis: str) -> Iterator[Live]:
    env = stack_env(tmp_path, DATABASE_URL=live_database, REDIS_URL=live_redis)
    with running_gateways(env, 2, tmp_path) as gateways:
        keys = json.loads(manage(env, "create_app", "--owner-email", "dev@example.com", "--name", "Web"))
        tokens = create_users(gateways.bases[0], keys, ("alice", "bob"))
        yield Live(gateways, keys["app_key"], tokens)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


async def open_chat(browser: Browser, live: Live, accid: str, peer: str) -> tuple[Page, list[str]]:
    page = await browser.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
    # lbs= (empty): this test stack's LBS hands out the default gateway address, so the page uses
    # its own origin's gateway, its built-in fallback.
    query = urllib.parse.urlencode({"appkey": live.app_key, "lbs": ""})
    await page.goto(f"{live.gateways.bases[0]}/webchat/?{query}")
    await page.fill("#accid", accid)
    await page.fill("#token", live.tokens[accid])
    await page.fill("#peer", peer)
    await page.click("#connect")
    await expect(page.locator("#state")).to_have_text("connected", timeout=20_000)
    return page, console


async def test_the_web_chat_page_and_a_python_client_talk_both_ways(browser: Browser, live: Live) -> None:
    page, console = await open_chat(browser, live, "alice", "bob")
    got: list[pb.Message] = []
    bob = Client(ClientOptions(app_key=live.app_key, endpoints=[live.gateways.ws(1)], device_id="py-bob"))
    bob.on("message", got.append)
    await bob.login("bob", live.tokens["bob"])
    try:
        assert await page.evaluate("window.imcloudWebchat.client.transport") == "websocket"
        # browser -> Python
        await page.fill("#text", "hello from the browser")
        await page.click("#send")
        mine = page.locator("#messages li.mine")
        await expect(mine).to_have_count(1, timeout=20_000)
        async with asyncio.timeout(20):
            while not got:
                await asyncio.sleep(0.05)
        assert [(m.from_accid, m.text, m.seq) for m in got] == [("alice", "hello from the browser", 1)]
        assert await mine.first.get_attribute("data-seq") == "1"
        # Python -> browser
        ack = await bob.send_text("alice", "hello from python")
        theirs = page.locator("#messages li.theirs")
        await expect(theirs).to_have_count(1, timeout=20_000)
        await expect(theirs.locator(".text")).to_have_text("hello from python")
        assert await theirs.first.get_attribute("data-seq") == str(ack.seq) == "2"
        assert await theirs.first.get_attribute("data-from") == "bob"
        # The browser says the network is back: the SDK reconnects at once, and nothing is lost.
        await page.evaluate("window.dispatchEvent(new Event('online'))")
        logins = "window.imcloudWebchat.client.stats.logins"
        async with asyncio.timeout(20):
            while await page.evaluate(logins) < 2:
                await asyncio.sleep(0.05)
        await expect(page.locator("#state")).to_have_text("connected", timeout=20_000)
        await bob.send_text("alice", "after the network change")
        await expect(theirs).to_have_count(2, timeout=20_000)
        await expect(theirs.nth(1).locator(".text")).to_have_text("after the network change")
        await expect(page.locator("#error")).to_have_text("")
        assert [line for line in console if line.startswith(("error", "pageerror"))] == []
    finally:
        await bob.close()
        await page.close()


async def test_a_wrong_token_in_the_page_shows_the_refusal_and_stops(browser: Browser, live: Live) -> None:
    page = await browser.new_page()
    query = urllib.parse.urlencode({"appkey": live.app_key, "lbs": ""})
    await page.goto(f"{live.gateways.bases[0]}/webchat/?{query}")
    await page.fill("#accid", "alice")
    await page.fill("#token", "wrong")
    await page.fill("#peer", "bob")
    await page.click("#connect")
    await expect(page.locator("#state")).to_have_text("auth_failed", timeout=20_000)
    await expect(page.locator("#error")).to_contain_text("bad_credentials")
    rounds = "window.imcloudWebchat.client.dumpLog().filter(e => e.event === 'connect_round').length"
    assert await page.evaluate(rounds) == 1
    await page.close()
