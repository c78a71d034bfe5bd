"""A terminal chat on the imcloud Python SDK: lines you type go to --to, what they send is printed.

    python chat.py --app-key K --accid alice --token T --to bob --lbs http://127.0.0.1:8000/api/v1/lbs

Run a second one as bob (--accid bob --to alice) in another terminal and talk. Ctrl-D quits.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime

from imcloud_sdk import Client, ClientOptions, ConnectionState, ImError, pb


def say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def show_message(message: pb.Message) -> None:
    when = datetime.fromtimestamp(message.server_time / 1000).strftime("%H:%M:%S")
    if message.type == pb.MESSAGE_TYPE_RECALL:
        say(f"[{when}] {message.from_accid} recalled message #{message.recalled_seq}")
    else:
        say(f"[{when}] {message.from_accid}: {message.text or message.custom}")


def show_state(state: ConnectionState, detail: object) -> None:
    say(f"* {state.value}" + (f" ({detail})" if detail else ""))


async def chat(args: argparse.Namespace) -> int:
    client = Client(
        ClientOptions(
            app_key=args.app_key,
            lbs_url=args.lbs,
            endpoints=args.endpoint or [],
            http_endpoints=args.http_endpoint or [],
            device_id=args.device_id or f"chat-{args.accid}",
        )
    )
    client.on("message", show_message)
    client.on("state", show_state)
    client.on("error", lambda error: say(f"! {error.code}: {error.message}"))
    client.on("typing", lambda typing: say(f"* {typing.from_accid} is typing"))
    try:
        await client.login(args.accid, args.token)
    except ImError as error:
        say(f"! login failed: {error.code} {error.message}")
        await client.close()
        return 1
    say(f"* logged in as {args.accid}; talking to {args.to} (Ctrl-D quits)")
    try:
        while True:
            line = await asyncio.to_thread(sys.stdin.readline)
            if not line:
                break
            text = line.rstrip("\n")
            if not text.strip():
                continue
            try:
                await client.send_text(args.to, text)
            except ImError as error:
                say(f"! not sent: {error.code} {error.message}")
    finally:
        await client.logout()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description="Chat in the terminal through imcloud.")
    parser.add_argument("--app-key", required=True)
    parser.add_argument("--accid", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--to", required=True, help="the accid to talk to")
    parser.add_argument("--lbs", help="the LBS URL, e.g. http://127.0.0.1:8000/api/v1/lbs")
    parser.add_argument("--endpoint", action="append", help="a built-in WebSocket endpoint (repeatable)")
    parser.add_argument("--http-endpoint", action="append", help="a built-in short-link base (repeatable)")
    parser.add_argument("--device-id", help="stable per installation; default chat-<accid>")
    args = parser.parse_args()
    if not args.lbs and not args.endpoint:
        parser.error("give --lbs or --endpoint")
    return asyncio.run(chat(args))


if __name__ == "__main__":
    sys.exit(main())
