from __future__ import annotations

from django.urls import path

from apps.webchat import views

app_name = "webchat"

urlpatterns = [
    path("", views.chat, name="chat"),
]
