"""What a frame handler is given and gives back, shared by both client transports."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from apps.gateway.sessions import Session
from apps.imusers.models import ImUser
from apps.messaging.sending import Outcome, SendRequest
from apps.protocol import imcloud_pb2 as pb
from apps.tenants.models import App

Submit = Callable[[SendRequest], Awaitable[Outcome]]


@dataclass(frozen=True)
class Caller:
    """Who a frame comes from, and how their transport stores a send: the gateway through its
    process's group-commit batcher, the short link one send per request."""

    session: Session
    submit: Submit

    @property
    def app(self) -> App:
        return self.session.app

    @property
    def user(self) -> ImUser:
        return self.session.user

    @property
    def session_id(self) -> str:
        return self.session.session_id

    @property
    def device_id(self) -> str:
        return self.session.device_id


# The reply to a request frame; None when the request has none (typing, logout).
Reply = pb.Frame | None
Handler = Callable[[Caller, pb.Frame], Awaitable[Reply]]


def ack(frame: pb.Frame) -> pb.Frame:
    return pb.Frame(request_id=frame.request_id, ack=pb.Ack())


def error_frame(request_id: int, code: str, message: str, *, fatal: bool = False) -> pb.Frame:
    return pb.Frame(request_id=request_id, error=pb.Error(code=code, message=message, fatal=fatal))
