from __future__ import annotations

from django.urls import include, path

from apps.core.views import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("api/v1/", include("apps.api.urls")),
    path("webchat/", include("apps.webchat.urls")),
    path("", include("apps.console.urls")),
]

handler404 = "apps.core.views.not_found"
handler500 = "apps.core.views.server_error"
