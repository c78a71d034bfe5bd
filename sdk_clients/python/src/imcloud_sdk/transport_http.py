"""HTTP: the LBS query and the short link (POST /api/v1/client/frames), with the standard library.

urllib runs in a worker thread, so no extra dependency is needed and the event loop never blocks.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from imcloud_sdk import codec
from imcloud_sdk._generated import imcloud_pb2 as pb
from imcloud_sdk.errors import ImError

FRAMES_PATH = "/api/v1/client/frames"


@dataclass
class HttpReply:
    status: int
    frame: pb.Frame | None
    retry_after: float | None


@dataclass
class LbsResult:
    gateways: list[str]
    http: list[str]
    ttl: float


def _fetch(request: urllib.request.Request, timeout: float) -> tuple[int, bytes, dict[str, str]]:
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - URLs from options/LBS
            return int(response.status), response.read(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return int(error.code), error.read(), dict(error.headers or {})


async def fetch_lbs(lbs_url: str, app_key: str, timeout: float) -> LbsResult:
    """Raises OSError / ValueError when the LBS does not answer usefully."""
    separator = "&" if "?" in lbs_url else "?"
    url = f"{lbs_url}{separator}{urllib.parse.urlencode({'appkey': app_key})}"
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310
    status, body, _ = await asyncio.to_thread(_fetch, request, timeout)
    if status != 200:
        raise ValueError(f"LBS answered HTTP {status}")
    data = json.loads(body)
    gateways = [str(url) for url in data.get("gateways", [])]
    if not gateways:
        raise ValueError("LBS listed no gateways")
    http = [str(url) for url in data.get("http", [])]
    return LbsResult(gateways, http, float(data.get("ttl", 300)))


async def post_frame(
    base: str, frame: pb.Frame, *, encoding: str, headers: dict[str, str], timeout: float
) -> HttpReply:
    """One request frame over the short link. Raises OSError when the server cannot be reached."""
    request = urllib.request.Request(  # noqa: S310
        base.rstrip("/") + FRAMES_PATH,
        data=_as_bytes(codec.encode(frame, encoding)),
        method="POST",
        headers={
            **headers,
            "Content-Type": codec.CONTENT_TYPES[encoding],
            "Accept": codec.CONTENT_TYPES[encoding],
        },
    )
    status, body, response_headers = await asyncio.to_thread(_fetch, request, timeout)
    retry = response_headers.get("Retry-After")
    reply: pb.Frame | None = None
    content_type = response_headers.get("Content-Type", "")
    if body and ("protobuf" in content_type or "json" in content_type):
        reply_encoding = "proto" if "protobuf" in content_type else "json"
        try:
            reply = codec.decode(body if reply_encoding == "proto" else body.decode(), reply_encoding)
        except (ImError, UnicodeDecodeError):
            reply = None
    return HttpReply(status, reply, float(retry) if retry and retry.isdigit() else None)


def _as_bytes(data: bytes | str) -> bytes:
    return data.encode() if isinstance(data, str) else data
