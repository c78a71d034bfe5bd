"""POST /api/v1/client/frames: the short link, for clients whose WebSocket cannot get through.

One request frame per POST, in the body as binary protobuf (``application/x-protobuf``) or
protobuf's canonical JSON (``application/json``); the reply is the frame the WebSocket would have
answered with, in the same encoding. The user authenticates on every request with the login's
credentials in ``X-IM-*`` headers; nothing is registered in presence (the client is not
reachable here: it polls with ``sync``).

The frames go through the gateway's own handlers (apps/gateway/handlers.py); only the storing of
a send differs: one send per request, published after commit by the same path as a REST send,
instead of the gateway process's group-commit batcher.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterable
from typing import Any

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.permissions import AllowAny
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from apps.core.conf import setting_int
from apps.core.errors import DomainError, InvalidField
from apps.core.ratelimit import count_in_second
from apps.gateway import handlers, publish
from apps.gateway.caller import Caller, Handler, error_frame
from apps.gateway.sessions import Session, session_authenticate
from apps.messaging.sending import Outcome, SendRequest, message_send_one
from apps.protocol import codec
from apps.protocol import imcloud_pb2 as pb

logger = logging.getLogger(__name__)

MEDIA_TYPES = {
    "application/x-protobuf": codec.Encoding.PROTO,
    "application/json": codec.Encoding.JSON,
}
CONTENT_TYPES = {encoding: media for media, encoding in MEDIA_TYPES.items()}
# Frames that only make sense on a live connection.
NOT_OVER_HTTP = frozenset({"login", "ping", "logout", "typing", "app_state"})
HEADERS = {
    "X-IM-AppKey": "The app's AppKey.",
    "X-IM-Accid": "The user's accid.",
    "X-IM-Token": "The user's token.",
    "X-IM-Device-Id": "Stable per installation, 1 to 64 characters (the login's device_id).",
    "X-IM-Platform": "The Platform enum number (1 Android, 2 iOS, 3 Web, 4 Windows, 5 Mac, 6 Linux).",
}


class Refusal(Exception):
    """The request ends before any handler: an HTTP status and an ``error`` frame."""

    def __init__(self, status: int, code: str, message: str, *, retry_after: int = 0) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.retry_after = status, code, message, retry_after


def frame_response(frame: pb.Frame, encoding: codec.Encoding, status: int = 200) -> HttpResponse:
    response = HttpResponse(
        codec.encode(frame, encoding), status=status, content_type=CONTENT_TYPES[encoding]
    )
    response["Cache-Control"] = "no-store"
    return response


def _encoding(request: Request) -> codec.Encoding:
    media = request.META.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
    encoding = MEDIA_TYPES.get(media)
    if encoding is None:
        raise Refusal(415, "unsupported_media_type", "Send application/x-protobuf or application/json.")
    return encoding


def _body(request: Request) -> bytes:
    """At most the frame size limit, read without trusting Content-Length."""
    cap = setting_int("GATEWAY_MAX_FRAME_BYTES")
    too_large = Refusal(413, "frame_too_large", f"Frames are at most {cap} bytes.")
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > cap:
        raise too_large
    raw: bytes = request._request.read(cap + 1)
    if len(raw) > cap:
        raise too_large
    return raw


def _frame(raw: bytes, encoding: codec.Encoding) -> pb.Frame:
    try:
        if encoding is codec.Encoding.PROTO:
            return codec.decode(text=None, data=raw, encoding=encoding)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise codec.FrameDecodeError("malformed_frame", f"not UTF-8: {exc}") from exc
        return codec.decode(text=text, data=None, encoding=encoding)
    except codec.FrameDecodeError as exc:
        raise Refusal(400, exc.code, exc.message) from None


def _session(request: Request) -> Session:
    header = {name: request.headers.get(name, "").strip() for name in HEADERS}
    try:
        platform = int(header["X-IM-Platform"])
    except ValueError:
        raise Refusal(400, "invalid_field", "X-IM-Platform is a Platform enum number.") from None
    try:
        return session_authenticate(
            app_key=header["X-IM-AppKey"],
            accid=header["X-IM-Accid"],
            token=header["X-IM-Token"],
            device_id=header["X-IM-Device-Id"],
            platform=platform,
        )
    except DomainError as exc:
        status = 400 if isinstance(exc, InvalidField) else 401
        raise Refusal(status, exc.code, exc.detail) from None


def _now() -> float:
    return time.time()


def _check_rate(session: Session) -> None:
    """The gateway's per-connection frame rate, per device, in one-second windows in the cache.

    Counted after authentication, so nobody but the device itself can spend its allowance.
    """
    now = _now()
    second = int(now)
    key = f"client-rate:{session.app.app_key}:{session.user.pk}:{session.device_id}"
    if count_in_second(key, second=second) > setting_int("GATEWAY_RATE_PER_SECOND"):
        wait = max(1, math.ceil((second + 1) - now))
        raise Refusal(429, "rate_limited", "Too many frames from this device; slow down.", retry_after=wait)


async def _store_now(request: SendRequest) -> Outcome:
    # The REST send path: stored on its own, published to every gateway process after commit.
    outcome: Outcome = await database_sync_to_async(message_send_one)(request, publish.messages_created)
    return outcome


def _handler(frame: pb.Frame) -> Handler:
    kind = frame.WhichOneof("body")
    if kind is None:
        raise Refusal(400, "unknown_frame", "The frame has no body this server knows.")
    if kind in NOT_OVER_HTTP:
        raise Refusal(400, "unsupported_over_http", f"{kind} frames need the WebSocket.")
    handler = handlers.HANDLERS.get(kind)
    if handler is None:
        raise Refusal(400, "unexpected_frame", f"Clients do not send {kind} frames.")
    return handler


class BodyEncodingNegotiation(BaseContentNegotiation):
    """The reply's encoding is the body's: an ``Accept`` header is not refused, only ignored."""

    def select_parser(self, request: Request, parsers: Iterable[BaseParser]) -> BaseParser | None:
        return next(iter(parsers), None)

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type


class ClientFramesView(APIView):
    # Clients authenticate with their own credentials, not the app server's signature, and are
    # rate limited per device, not per app.
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes: list[Any] = []
    content_negotiation_class = BodyEncodingNegotiation

    @extend_schema(
        tags=["client"],
        operation_id="client_frames",
        auth=[],
        description=(
            "The short link for end users' apps (docs/protocol.md): one request Frame of "
            "protocol/imcloud.proto per POST, binary (`application/x-protobuf`) or canonical JSON "
            "(`application/json`), authenticated by the user's own credentials in the `X-IM-*` "
            "headers, not by the server API's signature. The answer is the Frame the WebSocket would "
            "reply with, in the same encoding: 200 with the reply (or an `error` frame for a refusal "
            "such as `no_such_user`); 401 with an `error` frame (`unknown_app`, `bad_credentials`, "
            "`blocked`); 400 (`malformed_frame`, `unknown_frame`, `unexpected_frame`, "
            "`unsupported_over_http` for login, ping, logout, typing and app_state, `invalid_field` for "
            "a bad header); 413 (`frame_too_large`); 415 (`unsupported_media_type`); 429 "
            "(`rate_limited`, with Retry-After)."
        ),
        parameters=[
            OpenApiParameter(name, str, OpenApiParameter.HEADER, required=True, description=text)
            for name, text in HEADERS.items()
        ],
        request={
            "application/x-protobuf": OpenApiTypes.BINARY,
            "application/json": OpenApiTypes.OBJECT,
        },
        responses={
            (status, media): OpenApiResponse(
                OpenApiTypes.BINARY if media == "application/x-protobuf" else OpenApiTypes.OBJECT,
                description=text,
            )
            for status, text in (
                (200, "The reply Frame, or an `error` Frame"),
                (400, "An `error` Frame: the body or a header is not acceptable"),
                (401, "An `error` Frame: the credentials are refused"),
                (413, "An `error` Frame: the body is over the frame size limit"),
                (429, "An `error` Frame: over the device's frame rate"),
            )
            for media in MEDIA_TYPES
        }
        | {
            (415, "application/json"): OpenApiResponse(
                OpenApiTypes.OBJECT, description="An `error` Frame in JSON: the body is in neither encoding"
            )
        },
    )
    def post(self, request: Request) -> HttpResponse:
        try:
            encoding = _encoding(request)
        except Refusal as refusal:
            return frame_response(error_frame(0, refusal.code, refusal.message), codec.Encoding.JSON, 415)
        request_id = 0
        try:
            frame = _frame(_body(request), encoding)
            request_id = frame.request_id
            session = _session(request)
            _check_rate(session)
            handler = _handler(frame)
        except Refusal as refusal:
            response = frame_response(
                error_frame(request_id, refusal.code, refusal.message), encoding, refusal.status
            )
            if refusal.retry_after:
                response["Retry-After"] = str(refusal.retry_after)
            return response
        caller = Caller(session=session, submit=_store_now)
        try:
            reply = async_to_sync(handlers.answer)(caller, frame, handler)
        except Exception:
            logger.exception("client frame failed", extra={"kind": frame.WhichOneof("body")})
            failed = error_frame(request_id, "internal_error", "The server failed on this frame.")
            return frame_response(failed, encoding, 500)
        assert reply is not None  # every frame allowed here has a reply
        return frame_response(reply, encoding)
