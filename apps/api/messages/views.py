"""Message and conversation endpoints: the app server acts as any of its users.

Each view parses strictly, calls one messaging service or selector for the signed app, and renders
with ``serializers.message_out``. Bodies name the user whose view of the conversation is meant
(``from`` or ``accid``); ``to`` names the conversation as that user sees it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.api.auth import request_app
from apps.api.fields import StrictSerializer
from apps.api.messages import serializers as s
from apps.api.schema import error_responses
from apps.core.errors import DomainError, NotFound
from apps.imusers.models import ImUser
from apps.imusers.selectors import imuser_get
from apps.messaging.content import content_to_body
from apps.messaging.selectors import (
    ConversationSummary,
    conversations_changed,
    messages_page,
    team_read_status,
)
from apps.messaging.sending import SendResult
from apps.messaging.services import (
    BatchResult,
    conversation_mark_read,
    message_recall,
    message_send,
    message_send_batch,
)
from apps.tenants.models import App

MESSAGES = ["messages"]
CONVERSATIONS = ["conversations"]


def _parse(serializer_class: type[StrictSerializer], data: Any) -> dict[str, Any]:
    body = serializer_class(data=data)
    body.is_valid(raise_exception=True)
    return dict(body.validated_data)


def _user(*, app: App, accid: str, field: str) -> ImUser:
    try:
        return imuser_get(app=app, accid=accid)
    except NotFound:
        raise NotFound(f"No user {accid!r} in this app.", field=field, code="no_such_user") from None


@contextmanager
def _rest_fields(**renames: str) -> Iterator[None]:
    """Name the field at fault as this API does: the protocol's ``target`` is ``to`` here."""
    renames = {"target": "to", **renames}
    try:
        yield
    except DomainError as exc:
        if exc.field in renames:
            exc.field = renames[exc.field]
        raise


def _batch_out(result: BatchResult) -> dict[str, list[dict[str, Any]]]:
    return {
        "results": [
            {"to": to, "server_msg_id": str(sent.message.pk), "seq": sent.message.seq}
            for to, sent in result.sent
        ],
        "failed": [{"to": to, "code": exc.code, "detail": exc.detail} for to, exc in result.failed],
    }


def _sent(result: SendResult) -> Response:
    body = s.message_out(result.message, conversation=result.message.conversation)
    body["duplicate"] = result.duplicate
    return Response(body, status=status.HTTP_200_OK if result.duplicate else status.HTTP_201_CREATED)


class MessagesView(APIView):
    @extend_schema(
        tags=MESSAGES,
        operation_id="messages_send",
        description=(
            "Send as any user of the app. A client_msg_id already used by this sender returns the "
            "original message with 200 and `duplicate: true` instead of storing a copy."
        ),
        request=s.MessageSendIn,
        responses={
            201: s.MessageSendOut,
            200: OpenApiResponse(s.MessageSendOut, description="A retry: the original message"),
            **error_responses(403, 404),
        },
    )
    def post(self, request: Request) -> Response:
        app = request_app(request)
        data = _parse(s.MessageSendIn, request.data)
        sender = _user(app=app, accid=data["from"], field="from")
        with _rest_fields():
            result = message_send(
                app=app,
                sender=sender,
                conversation_type=data["conversation_type"],
                target=data["to"],
                client_msg_id=data.get("client_msg_id") or f"srv-{uuid.uuid4().hex}",
                content=s.content_of(data),
            )
        return _sent(result)


class MessagesBatchView(APIView):
    @extend_schema(
        tags=MESSAGES,
        operation_id="messages_send_batch",
        description=(
            "One one-to-one message from `from` to each recipient, each its own message. Recipients "
            "the service refuses (e.g. `no_such_user`) are listed in `failed`; the rest are sent."
        ),
        request=s.MessageBatchIn,
        responses={200: s.MessageBatchOut, **error_responses(404)},
    )
    def post(self, request: Request) -> Response:
        app = request_app(request)
        data = _parse(s.MessageBatchIn, request.data)
        sender = _user(app=app, accid=data["from"], field="from")
        content = s.content_of(data)
        content_to_body(content)  # bad content is one 400 for the batch, not 500 failures
        result = message_send_batch(
            app=app,
            sender=sender,
            recipients=data["to"],
            client_msg_id_prefix=data.get("client_msg_id"),
            content=content,
        )
        return Response(_batch_out(result))


class MessagesHistoryView(APIView):
    @extend_schema(
        tags=MESSAGES,
        operation_id="messages_history",
        description=(
            "The conversation as `from` sees it, in ascending seq order: after `after_seq`, or with "
            "`before_seq` the page just before it. Recalled messages keep their place without content; "
            "the recall notice (type `recall`) has its own seq."
        ),
        parameters=[s.HistoryQuery],
        responses={200: s.HistoryOut, **error_responses(403, 404)},
    )
    def get(self, request: Request) -> Response:
        app = request_app(request)
        query = _parse(s.HistoryQuery, request.query_params)
        user = _user(app=app, accid=query["from"], field="from")
        with _rest_fields():
            page = messages_page(
                app=app,
                user=user,
                conversation_type=query["conversation_type"],
                target=query["to"],
                after_seq=query["after_seq"],
                before_seq=query["before_seq"],
                limit=query["limit"],
            )
        place = page.place
        messages = (
            []
            if place is None
            else [s.message_out(m, conversation=place.conversation) for m in page.messages]
        )
        return Response({"messages": messages, "has_more": page.has_more})


class MessagesRecallView(APIView):
    @extend_schema(
        tags=MESSAGES,
        operation_id="messages_recall",
        description=(
            "Recall any user's message within the app's recall window. The message loses its content "
            "and a recall notice takes the conversation's next seq."
        ),
        request=s.RecallIn,
        responses={200: s.RecallOut, **error_responses(403, 404)},
    )
    def post(self, request: Request) -> Response:
        app = request_app(request)
        data = _parse(s.RecallIn, request.data)
        actor = _user(app=app, accid=data["from"], field="from")
        with _rest_fields():
            result = message_recall(
                app=app,
                actor=actor,
                conversation_type=data["conversation_type"],
                target=data["to"],
                server_msg_id=data["server_msg_id"],
                as_app_server=True,
            )
        return Response(
            {
                "server_msg_id": str(result.original.pk),
                "notice_seq": result.notice.seq,
                "duplicate": result.duplicate,
            }
        )


class MessagesReadView(APIView):
    @extend_schema(
        tags=MESSAGES,
        operation_id="messages_mark_read",
        description="Mark the conversation read up to `seq` on the user's behalf (never moves back).",
        request=s.MarkReadIn,
        responses={200: s.MarkReadOut, **error_responses(403, 404)},
    )
    def post(self, request: Request) -> Response:
        app = request_app(request)
        data = _parse(s.MarkReadIn, request.data)
        reader = _user(app=app, accid=data["accid"], field="accid")
        with _rest_fields(server_msg_id="to"):
            read_seq = conversation_mark_read(
                app=app,
                user=reader,
                conversation_type=data["conversation_type"],
                target=data["to"],
                seq=data["seq"],
            )
        return Response({"read_seq": read_seq})


def _conversation_out(summary: ConversationSummary) -> dict[str, Any]:
    conversation = summary.conversation
    out: dict[str, Any] = {
        "conversation_type": s.CONVERSATION_TYPE_NAMES[conversation.kind],
        "to": summary.target,
        "last_seq": conversation.last_seq,
        "read_seq": summary.read_seq,
        "peer_read_seq": summary.peer_read_seq,
        "unread": summary.unread,
    }
    if summary.last_message is not None:
        out["last_message"] = s.message_out(summary.last_message, conversation=conversation)
    out["updated_at"] = summary.changed_ms
    return out


class ConversationsView(APIView):
    @extend_schema(
        tags=CONVERSATIONS,
        operation_id="conversations_list",
        description=(
            "The user's conversations changed since `cursor` (all of them without one), least recently "
            "changed first. Keep the returned cursor: passed back later it lists what changed since."
        ),
        parameters=[s.ConversationsQuery],
        responses={200: s.ConversationPageOut, **error_responses(404)},
    )
    def get(self, request: Request) -> Response:
        app = request_app(request)
        query = _parse(s.ConversationsQuery, request.query_params)
        user = _user(app=app, accid=query["accid"], field="accid")
        page = conversations_changed(app=app, user=user, cursor=query["cursor"], limit=query["limit"])
        return Response(
            {
                "conversations": [_conversation_out(summary) for summary in page.summaries],
                "cursor": page.cursor,
                "has_more": page.has_more,
            }
        )


class TeamReadStatusView(APIView):
    @extend_schema(
        tags=MESSAGES,
        operation_id="teams_read_status",
        description="Which members have read the team message at `seq`, and which not (sender excluded).",
        parameters=[
            OpenApiParameter("team_id", str, OpenApiParameter.PATH, description="The team id."),
            s.ReadStatusQuery,
        ],
        responses={200: s.ReadStatusOut, **error_responses(403, 404)},
    )
    def get(self, request: Request, team_id: str) -> Response:
        app = request_app(request)
        query = _parse(s.ReadStatusQuery, request.query_params)
        user = _user(app=app, accid=query["accid"], field="accid")
        with _rest_fields(target="team_id", server_msg_id="seq"):
            status_ = team_read_status(app=app, user=user, team_id=team_id, seq=query["seq"])
        return Response({"read": status_.read, "unread": status_.unread})
