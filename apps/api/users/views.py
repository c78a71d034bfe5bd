"""End-user endpoints. Each view parses, calls one service or selector for the signed app, renders."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.api.auth import request_app
from apps.api.cursors import cursor_decode, cursor_encode, limit_parse
from apps.api.schema import error_responses
from apps.api.users import serializers as s
from apps.imusers import limits
from apps.imusers.selectors import imuser_get, imuser_list
from apps.imusers.services import (
    imuser_block,
    imuser_create,
    imuser_set_token,
    imuser_unblock,
    imuser_update,
)

TAG = ["users"]


class UsersView(APIView):
    @extend_schema(
        tags=TAG,
        operation_id="users_list",
        parameters=[
            OpenApiParameter("cursor", str, description="next_cursor of the previous page"),
            OpenApiParameter("limit", int, description=f"1 to {limits.LIST_PAGE_MAX}, default 100"),
        ],
        responses={200: s.UserPageOut, **error_responses()},
    )
    def get(self, request: Request) -> Response:
        after_id = cursor_decode(request.query_params.get("cursor"))
        limit = limit_parse(
            request.query_params.get("limit"), default=limits.LIST_PAGE_MAX, maximum=limits.LIST_PAGE_MAX
        )
        page = imuser_list(app=request_app(request), after_id=after_id, limit=limit)
        next_cursor = None if page.next_after_id is None else cursor_encode(after_id=page.next_after_id)
        return Response({"users": s.UserOut(page.users, many=True).data, "next_cursor": next_cursor})

    @extend_schema(
        tags=TAG,
        operation_id="users_create",
        request=s.UserCreateIn,
        responses={201: s.UserTokenOut, **error_responses(409)},
    )
    def post(self, request: Request) -> Response:
        body = s.UserCreateIn(data=request.data)
        body.is_valid(raise_exception=True)
        user, token = imuser_create(app=request_app(request), **body.validated_data)
        return Response({"accid": user.accid, "token": token}, status=status.HTTP_201_CREATED)


class UserDetailView(APIView):
    @extend_schema(tags=TAG, operation_id="users_get", responses={200: s.UserOut, **error_responses(404)})
    def get(self, request: Request, accid: str) -> Response:
        return Response(s.UserOut(imuser_get(app=request_app(request), accid=accid)).data)

    @extend_schema(
        tags=TAG,
        operation_id="users_update",
        request=s.UserUpdateIn,
        responses={200: s.UserOut, **error_responses(404)},
    )
    def patch(self, request: Request, accid: str) -> Response:
        user = imuser_get(app=request_app(request), accid=accid)
        body = s.UserUpdateIn(data=request.data)
        body.is_valid(raise_exception=True)
        return Response(s.UserOut(imuser_update(user=user, **body.validated_data)).data)


class UserTokenView(APIView):
    @extend_schema(
        tags=TAG,
        operation_id="users_token",
        description="Set the given token, or a random one when none is given. The old one stops working.",
        request=s.TokenIn,
        responses={200: s.UserTokenOut, **error_responses(404)},
    )
    def post(self, request: Request, accid: str) -> Response:
        user = imuser_get(app=request_app(request), accid=accid)
        body = s.TokenIn(data=request.data)
        body.is_valid(raise_exception=True)
        token = imuser_set_token(user=user, token=body.validated_data.get("token"))
        return Response({"accid": user.accid, "token": token})


class UserBlockView(APIView):
    @extend_schema(
        tags=TAG,
        operation_id="users_block",
        request=s.BlockIn,
        responses={200: s.BlockOut, **error_responses(404)},
    )
    def post(self, request: Request, accid: str) -> Response:
        user = imuser_get(app=request_app(request), accid=accid)
        body = s.BlockIn(data=request.data)
        body.is_valid(raise_exception=True)
        user = imuser_block(user=user, kick=body.validated_data["kick"])
        return Response({"accid": user.accid, "blocked": user.is_blocked})


class UserUnblockView(APIView):
    @extend_schema(
        tags=TAG,
        operation_id="users_unblock",
        request=None,
        responses={200: s.BlockOut, **error_responses(404)},
    )
    def post(self, request: Request, accid: str) -> Response:
        user = imuser_unblock(user=imuser_get(app=request_app(request), accid=accid))
        return Response({"accid": user.accid, "blocked": user.is_blocked})
