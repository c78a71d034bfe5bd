"""Team endpoints. Each view parses, calls one service or selector for the signed app, renders.

The app server acts on a member's authority: write bodies name the ``operator`` whose role is
checked (docs/teams.md lists who may do what).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.api.auth import request_app
from apps.api.cursors import cursor_decode, cursor_encode, limit_parse
from apps.api.fields import StrictSerializer
from apps.api.schema import ErrorOut, error_responses
from apps.api.teams import serializers as s
from apps.teams import limits
from apps.teams.selectors import team_get, team_members_page
from apps.teams.services import (
    team_add_managers,
    team_add_members,
    team_create,
    team_dismiss,
    team_leave,
    team_mute_all,
    team_mute_member,
    team_remove_managers,
    team_remove_members,
    team_transfer_owner,
    team_update,
)

TAG = ["teams"]
TEAM_ID = OpenApiParameter(
    "team_id", str, OpenApiParameter.PATH, description="The team id returned when it was created (digits)."
)


def _errors(*statuses: int) -> dict[int, OpenApiResponse]:
    responses = error_responses(*statuses)
    if 403 in responses:
        responses[403] = OpenApiResponse(
            ErrorOut, description="The operator's role does not allow it, or a named user is not in the team"
        )
    return responses


def _parse(serializer_class: type[StrictSerializer], request: Request) -> dict[str, Any]:
    body = serializer_class(data=request.data)
    body.is_valid(raise_exception=True)
    return dict(body.validated_data)


class TeamsView(APIView):
    @extend_schema(
        tags=TAG,
        operation_id="teams_create",
        description="Create a team owned by `owner`, with `members` in it (the owner need not be listed).",
        request=s.TeamCreateIn,
        responses={201: s.TeamOut, **_errors(404, 409)},
    )
    def post(self, request: Request) -> Response:
        team = team_create(app=request_app(request), **_parse(s.TeamCreateIn, request))
        return Response(s.TeamOut(team).data, status=status.HTTP_201_CREATED)


class TeamDetailView(APIView):
    @extend_schema(
        tags=TAG,
        operation_id="teams_get",
        parameters=[TEAM_ID],
        responses={200: s.TeamOut, **_errors(404)},
    )
    def get(self, request: Request, team_id: str) -> Response:
        return Response(s.TeamOut(team_get(app=request_app(request), team_id=team_id)).data)

    @extend_schema(
        tags=TAG,
        operation_id="teams_update",
        description="Owner or manager. Fields not sent are left alone.",
        parameters=[TEAM_ID],
        request=s.TeamUpdateIn,
        responses={200: s.TeamOut, **_errors(403, 404, 409)},
    )
    def patch(self, request: Request, team_id: str) -> Response:
        body = _parse(s.TeamUpdateIn, request)
        team = team_update(app=request_app(request), team_id=team_id, **body)
        return Response(s.TeamOut(team).data)


class TeamDismissView(APIView):
    @extend_schema(
        tags=TAG,
        operation_id="teams_dismiss",
        description="Owner only. The team then answers `no_such_team` everywhere.",
        parameters=[TEAM_ID],
        request=s.OperatorIn,
        responses={200: s.DismissOut, **_errors(403, 404)},
    )
    def post(self, request: Request, team_id: str) -> Response:
        body = _parse(s.OperatorIn, request)
        team = team_dismiss(app=request_app(request), team_id=team_id, **body)
        return Response({"team_id": str(team.pk), "dismissed": True})


class TeamMembersView(APIView):
    @extend_schema(
        tags=TAG,
        operation_id="teams_members_list",
        description="Members in the order they joined.",
        parameters=[
            TEAM_ID,
            OpenApiParameter("cursor", str, description="next_cursor of the previous page"),
            OpenApiParameter(
                "limit", int, description=f"1 to {limits.MEMBERS_PAGE_MAX}, default {limits.MEMBERS_PAGE_MAX}"
            ),
        ],
        responses={200: s.MemberPageOut, **_errors(404)},
    )
    def get(self, request: Request, team_id: str) -> Response:
        after_id = cursor_decode(request.query_params.get("cursor"))
        limit = limit_parse(
            request.query_params.get("limit"),
            default=limits.MEMBERS_PAGE_MAX,
            maximum=limits.MEMBERS_PAGE_MAX,
        )
        page = team_members_page(app=request_app(request), team_id=team_id, after_id=after_id, limit=limit)
        next_cursor = None if page.next_after_id is None else cursor_encode(after_id=page.next_after_id)
        return Response({"members": s.MemberOut(page.members, many=True).data, "next_cursor": next_cursor})

    @extend_schema(
        tags=TAG,
        operation_id="teams_members_add",
        description="Owner or manager. Users already in the team are left as they are (not in `changed`).",
        parameters=[TEAM_ID],
        request=s.AccidsIn,
        responses={200: s.TeamChangeOut, **_errors(403, 404, 409)},
    )
    def post(self, request: Request, team_id: str) -> Response:
        body = _parse(s.AccidsIn, request)
        change = team_add_members(app=request_app(request), team_id=team_id, **body)
        return Response(s.TeamChangeOut(change).data)


class TeamMembersRemoveView(APIView):
    @extend_schema(
        tags=TAG,
        operation_id="teams_members_remove",
        description=(
            "Owner or manager; only the owner removes managers; the owner cannot be removed. "
            "Users not in the team are left as they are (not in `changed`)."
        ),
        parameters=[TEAM_ID],
        request=s.AccidsIn,
        responses={200: s.TeamChangeOut, **_errors(403, 404)},
    )
    def post(self, request: Request, team_id: str) -> Response:
        body = _parse(s.AccidsIn, request)
        change = team_remove_members(app=request_app(request), team_id=team_id, **body)
        return Response(s.TeamChangeOut(change).data)


class TeamLeaveView(APIView):
    @extend_schema(
        tags=TAG,
        operation_id="teams_leave",
        description="The member leaves. The owner cannot (`owner_cannot_leave`): transfer ownership first.",
        parameters=[TEAM_ID],
        request=s.LeaveIn,
        responses={200: s.LeaveOut, **_errors(403, 404, 409)},
    )
    def post(self, request: Request, team_id: str) -> Response:
        body = _parse(s.LeaveIn, request)
        team = team_leave(app=request_app(request), team_id=team_id, **body)
        return Response({"team_id": str(team.pk), "accid": body["accid"], "member_count": team.member_count})


class TeamOwnerView(APIView):
    @extend_schema(
        tags=TAG,
        operation_id="teams_transfer_owner",
        description=(
            "Owner only. `new_owner` must be a member. The old owner becomes a plain member, "
            "or leaves the team with `leave: true`."
        ),
        parameters=[TEAM_ID],
        request=s.TransferOwnerIn,
        responses={200: s.TeamOut, **_errors(403, 404)},
    )
    def post(self, request: Request, team_id: str) -> Response:
        body = _parse(s.TransferOwnerIn, request)
        team = team_transfer_owner(app=request_app(request), team_id=team_id, **body)
        return Response(s.TeamOut(team).data)


class TeamManagersView(APIView):
    @extend_schema(
        tags=TAG,
        operation_id="teams_managers_add",
        description="Owner only. Every accid must be a member; managers already are not in `changed`.",
        parameters=[TEAM_ID],
        request=s.AccidsIn,
        responses={200: s.TeamChangeOut, **_errors(403, 404)},
    )
    def post(self, request: Request, team_id: str) -> Response:
        body = _parse(s.AccidsIn, request)
        change = team_add_managers(app=request_app(request), team_id=team_id, **body)
        return Response(s.TeamChangeOut(change).data)


class TeamManagersRemoveView(APIView):
    @extend_schema(
        tags=TAG,
        operation_id="teams_managers_remove",
        description="Owner only. Every accid must be a member; plain members are not in `changed`.",
        parameters=[TEAM_ID],
        request=s.AccidsIn,
        responses={200: s.TeamChangeOut, **_errors(403, 404)},
    )
    def post(self, request: Request, team_id: str) -> Response:
        body = _parse(s.AccidsIn, request)
        change = team_remove_managers(app=request_app(request), team_id=team_id, **body)
        return Response(s.TeamChangeOut(change).data)


class TeamMuteView(APIView):
    @extend_schema(
        tags=TAG,
        operation_id="teams_mute_member",
        description="Owner or manager; only the owner mutes managers; the owner cannot be muted.",
        parameters=[TEAM_ID],
        request=s.MuteMemberIn,
        responses={200: s.MuteMemberOut, **_errors(403, 404)},
    )
    def post(self, request: Request, team_id: str) -> Response:
        body = _parse(s.MuteMemberIn, request)
        member = team_mute_member(app=request_app(request), team_id=team_id, **body)
        return Response(s.MuteMemberOut(member).data)


class TeamMuteAllView(APIView):
    @extend_schema(
        tags=TAG,
        operation_id="teams_mute_all",
        description="Owner only. While set, only the owner and managers may post.",
        parameters=[TEAM_ID],
        request=s.MuteAllIn,
        responses={200: s.TeamOut, **_errors(403, 404)},
    )
    def post(self, request: Request, team_id: str) -> Response:
        body = _parse(s.MuteAllIn, request)
        team = team_mute_all(app=request_app(request), team_id=team_id, **body)
        return Response(s.TeamOut(team).data)
