from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from apps.console import forms, views, webhook_views

app_name = "console"

urlpatterns = [
    path("", views.home, name="home"),
    # Accounts
    path("signup/", views.signup, name="signup"),
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="registration/login.html",
            authentication_form=forms.LoginForm,
            redirect_authenticated_user=True,
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "password-reset/",
        auth_views.PasswordResetView.as_view(
            form_class=forms.ConsolePasswordResetForm,
            template_name="registration/password_reset_form.html",
            email_template_name="registration/password_reset_email.txt",
            subject_template_name="registration/password_reset_subject.txt",
            success_url=reverse_lazy("console:password_reset_done"),
        ),
        name="password_reset",
    ),
    path(
        "password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(template_name="registration/password_reset_done.html"),
        name="password_reset_done",
    ),
    path(
        "password-reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(
            template_name="registration/password_reset_confirm.html",
            success_url=reverse_lazy("console:password_reset_complete"),
        ),
        name="password_reset_confirm",
    ),
    path(
        "password-reset/complete/",
        auth_views.PasswordResetCompleteView.as_view(
            template_name="registration/password_reset_complete.html"
        ),
        name="password_reset_complete",
    ),
    # Apps
    path("apps/", views.app_list, name="app_list"),
    path("apps/new/", views.app_create_view, name="app_create"),
    path("apps/<str:app_key>/", views.app_detail, name="app_detail"),
    path("apps/<str:app_key>/secret/", views.app_secret, name="app_secret"),
    path("apps/<str:app_key>/rotate/", views.app_rotate, name="app_rotate"),
    path("apps/<str:app_key>/rename/", views.app_rename_view, name="app_rename"),
    path("apps/<str:app_key>/settings/", views.app_settings_view, name="app_settings"),
    path("apps/<str:app_key>/dashboard/", views.app_dashboard, name="app_dashboard"),
    path("apps/<str:app_key>/delete/", views.app_delete_view, name="app_delete"),
]

# --- Webhooks (apps/console/webhook_views.py) -------------------------------------------------------
urlpatterns += [
    path("apps/<str:app_key>/webhooks/", webhook_views.webhooks_view, name="app_webhooks"),
    path("apps/<str:app_key>/webhooks/resend/", webhook_views.webhook_resend_view, name="app_webhook_resend"),
]

# --- Push (apps/console/push_views.py) -------------------------------------------------------------
from apps.console import push_views  # noqa: E402

urlpatterns += [
    path("apps/<str:app_key>/push/", push_views.app_push, name="app_push"),
    path("apps/<str:app_key>/push/log/", push_views.app_push_log, name="app_push_log"),
]

# --- Client SDK downloads (apps/console/sdk_views.py) ----------------------------------------------
from apps.console import sdk_views  # noqa: E402

urlpatterns += [
    path("apps/<str:app_key>/sdk/", sdk_views.app_sdk, name="app_sdk"),
    path("apps/<str:app_key>/sdk/imcloud-sdk-python.zip", sdk_views.app_sdk_python, name="app_sdk_python"),
    path(
        "apps/<str:app_key>/sdk/imcloud-sdk-typescript.zip",
        sdk_views.app_sdk_typescript,
        name="app_sdk_typescript",
    ),
]
