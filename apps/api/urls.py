from __future__ import annotations

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

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
]
