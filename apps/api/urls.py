from __future__ import annotations

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from apps.api import client_frames, lbs
from apps.api.messages import views as messages
from apps.api.push import views as push
from apps.api.teams import views as teams
from apps.api.users import views as users

app_name = "api"

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("users", users.UsersView.as_view(), name="users"),
    path("users/<str:accid>", users.UserDetailView.as_view(), name="user"),
    path("users/<str:accid>/token", users.UserTokenView.as_view(), name="user_token"),
    path("users/<str:accid>/block", users.UserBlockView.as_view(), name="user_block"),
    path("users/<str:accid>/unblock", users.UserUnblockView.as_view(), name="user_unblock"),
    path("users/<str:accid>/devices", push.DevicesView.as_view(), name="user_devices"),
    path("users/<str:accid>/devices/<str:device_id>", push.DeviceDetailView.as_view(), name="user_device"),
    path("users/<str:accid>/push-preferences", push.PreferencesView.as_view(), name="user_push_preferences"),
    path("users/<str:accid>/push-mutes", push.MutesView.as_view(), name="user_push_mutes"),
    path("teams", teams.TeamsView.as_view(), name="teams"),
    path("teams/<str:team_id>", teams.TeamDetailView.as_view(), name="team"),
    path("teams/<str:team_id>/dismiss", teams.TeamDismissView.as_view(), name="team_dismiss"),
    path("teams/<str:team_id>/members", teams.TeamMembersView.as_view(), name="team_members"),
    path(
        "teams/<str:team_id>/members/remove",
        teams.TeamMembersRemoveView.as_view(),
        name="team_members_remove",
    ),
    path("teams/<str:team_id>/leave", teams.TeamLeaveView.as_view(), name="team_leave"),
    path("teams/<str:team_id>/owner", teams.TeamOwnerView.as_view(), name="team_owner"),
    path("teams/<str:team_id>/managers", teams.TeamManagersView.as_view(), name="team_managers"),
    path(
        "teams/<str:team_id>/managers/remove",
        teams.TeamManagersRemoveView.as_view(),
        name="team_managers_remove",
    ),
    path("teams/<str:team_id>/mute", teams.TeamMuteView.as_view(), name="team_mute"),
    path("teams/<str:team_id>/mute-all", teams.TeamMuteAllView.as_view(), name="team_mute_all"),
    path("messages", messages.MessagesView.as_view(), name="messages"),
    path("messages/batch", messages.MessagesBatchView.as_view(), name="messages_batch"),
    path("messages/history", messages.MessagesHistoryView.as_view(), name="messages_history"),
    path("messages/recall", messages.MessagesRecallView.as_view(), name="messages_recall"),
    path("messages/read", messages.MessagesReadView.as_view(), name="messages_read"),
    path("conversations", messages.ConversationsView.as_view(), name="conversations"),
    path(
        "teams/<str:team_id>/read-status",
        messages.TeamReadStatusView.as_view(),
        name="team_read_status",
    ),
    path("lbs", lbs.LbsView.as_view(), name="lbs"),
    path("client/frames", client_frames.ClientFramesView.as_view(), name="client_frames"),
]
