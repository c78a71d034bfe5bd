"""Push registration on the server API: devices, do-not-disturb, per-conversation mutes.

SDKs register devices over the WebSocket; these endpoints let an app server do the same.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.api.auth import request_app
from apps.api.push import serializers as s
from apps.api.schema import error_responses
from apps.core.errors import NotFound
from apps.imusers.selectors import imuser_get
from apps.push import services
from apps.push.selectors import devices_of, preferences_of

TAG = ["push"]


class DevicesView(APIView):
    @extend_schema(
        tags=TAG, operation_id="push_devices_list", responses={200: s.DeviceListOut, **error_responses(404)}
    )
    def get(self, request: Request, accid: str) -> Response:
        user = imuser_get(app=request_app(request), accid=accid)
        return Response({"devices": s.DeviceOut(devices_of(user=user), many=True).data})

    @extend_schema(
        tags=TAG,
        operation_id="push_devices_register",
        request=s.DeviceIn,
        responses={201: s.DeviceOut, **error_responses(404)},
    )
    def post(self, request: Request, accid: str) -> Response:
        app = request_app(request)
        user = imuser_get(app=app, accid=accid)
        body = s.DeviceIn(data=request.data)
        body.is_valid(raise_exception=True)
        device = services.device_register(app=app, user=user, **body.validated_data)
        return Response(s.DeviceOut(device).data, status=status.HTTP_201_CREATED)


class DeviceDetailView(APIView):
    @extend_schema(
        tags=TAG, operation_id="push_devices_unregister", responses={204: None, **error_responses(404)}
    )
    def delete(self, request: Request, accid: str, device_id: str) -> Response:
        user = imuser_get(app=request_app(request), accid=accid)
        if not services.device_unregister(user=user, device_id=device_id):
            raise NotFound("No such device for this user.", field="device_id", code="no_such_device")
        return Response(status=status.HTTP_204_NO_CONTENT)


class PreferencesView(APIView):
    @extend_schema(
        tags=TAG,
        operation_id="push_preferences_get",
        responses={200: s.PreferencesOut, **error_responses(404)},
    )
    def get(self, request: Request, accid: str) -> Response:
        user = imuser_get(app=request_app(request), accid=accid)
        return Response(s.PreferencesOut(preferences_of(user=user)).data)

    @extend_schema(
        tags=TAG,
        operation_id="push_preferences_set",
        request=s.PreferencesIn,
        responses={200: s.PreferencesOut, **error_responses(404)},
    )
    def put(self, request: Request, accid: str) -> Response:
        user = imuser_get(app=request_app(request), accid=accid)
        body = s.PreferencesIn(data=request.data)
        body.is_valid(raise_exception=True)
        return Response(s.PreferencesOut(services.preferences_update(user=user, **body.validated_data)).data)


class MutesView(APIView):
    @extend_schema(
        tags=TAG,
        operation_id="push_mute_set",
        request=s.MuteIn,
        responses={200: s.MuteOut, **error_responses(403, 404)},
    )
    def post(self, request: Request, accid: str) -> Response:
        app = request_app(request)
        user = imuser_get(app=app, accid=accid)
        body = s.MuteIn(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        services.conversation_set_push_mute(
            app=app,
            user=user,
            conversation_type=data["conversation_type"],
            target=data["to"],
            muted=data["muted"],
        )
        kind = "team" if data["conversation_type"] == 2 else "p2p"
        return Response({"conversation_type": kind, "to": data["to"], "muted": data["muted"]})
