"""Console pages for offline push: each provider's credentials, the push settings, and the push log.

Scoped to the developer's own app like every app page (``app_page``: another developer's AppKey is
a 404 for every method). Credentials go through ``apps.push.services`` (checked by the provider,
stored encrypted); the pages only ever show ``PushCredential.summary``, never a secret.

Every form of the push page posts to the page itself, named by its ``action`` field, so that a
refused form is shown again in place with its errors.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from apps.console import push_forms
from apps.console.views import app_page
from apps.core.errors import DomainError
from apps.push.models import Provider, PushCredential
from apps.push.selectors import attempt_counts, attempts_page, credentials_of
from apps.push.services import (
    credentials_delete,
    credentials_set,
    settings_for,
    settings_update,
    webpush_credentials_generate,
)
from apps.tenants.models import App

LOG_SIZE = 50

CREDENTIAL_FORMS: dict[str, type[push_forms.CredentialsForm]] = {
    Provider.APNS: push_forms.ApnsCredentialsForm,
    Provider.FCM: push_forms.FcmCredentialsForm,
    Provider.WEBPUSH: push_forms.VapidGenerateForm,
    Provider.HUAWEI: push_forms.HuaweiCredentialsForm,
    Provider.XIAOMI: push_forms.XiaomiCredentialsForm,
}
ACTION_SETTINGS = "settings"
ACTION_DELETE = "delete"

# How the public summary fields (apps.push.services.PUBLIC_FIELDS) are labelled.
SUMMARY_LABELS = {
    "key_id": "Key ID",
    "team_id": "Team ID",
    "bundle_id": "Bundle ID",
    "environment": "Environment",
    "project_id": "Project ID",
    "client_email": "Client email",
    "vapid_public_key": "Public key",
    "subject": "Contact",
    "app_id": "App ID",
    "package_name": "Package name",
}


def _provider_cards(app: App, bound: push_forms.CredentialsForm | None = None) -> list[dict[str, Any]]:
    stored: dict[str, PushCredential] = {c.provider: c for c in credentials_of(app=app)}
    cards = []
    for provider, label in Provider.choices:
        credential = stored.get(provider)
        form_class = CREDENTIAL_FORMS[provider]
        form = bound if bound is not None and bound.provider == provider else form_class(prefix=provider)
        summary = credential.summary if credential is not None else {}
        cards.append(
            {
                "provider": provider,
                "label": label,
                "credential": credential,
                "summary": [(SUMMARY_LABELS.get(key, key), value) for key, value in summary.items()],
                "public_key": summary.get("vapid_public_key", ""),
                "form": form,
                "delete_form": push_forms.CredentialsDeleteForm(initial={"provider": provider}),
            }
        )
    return cards


def _page(
    request: HttpRequest,
    app: App,
    *,
    bound: push_forms.CredentialsForm | None = None,
    settings_form: push_forms.PushSettingsForm | None = None,
) -> HttpResponse:
    if settings_form is None:
        settings_form = push_forms.PushSettingsForm(
            prefix=ACTION_SETTINGS,
            initial=push_forms.PushSettingsForm.initial_for(settings_for(app=app)),
        )
    context = {
        "app": app,
        "cards": _provider_cards(app, bound),
        "settings_form": settings_form,
        "max_upload_kib": push_forms.MAX_UPLOAD_KIB,
    }
    return render(request, "console/push.html", context)


def _back(app: App, anchor: str) -> HttpResponse:
    return redirect(reverse("console:app_push", args=[app.app_key]) + f"#{anchor}")


def _save_credentials(request: HttpRequest, app: App, provider: str) -> HttpResponse:
    form = CREDENTIAL_FORMS[provider](request.POST, request.FILES, prefix=provider)
    if form.is_valid():
        try:
            if provider == Provider.WEBPUSH:
                webpush_credentials_generate(app=app, subject=form.cleaned_data["subject"])
            else:
                credentials_set(app=app, provider=provider, data=form.data_for_service())
        except DomainError as exc:
            form.attach(exc)
        else:
            label = Provider(provider).label
            if provider == Provider.WEBPUSH:
                messages.success(
                    request, "Generated a new VAPID key pair. Give browsers the public key below."
                )
            else:
                messages.success(request, f"Saved the {label} credentials.")
            return _back(app, provider)
    return _page(request, app, bound=form)


def _delete_credentials(request: HttpRequest, app: App) -> HttpResponse:
    form = push_forms.CredentialsDeleteForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest("Unknown push provider.")
    provider = form.cleaned_data["provider"]
    credentials_delete(app=app, provider=provider)
    messages.success(request, f"Deleted the {Provider(provider).label} credentials.")
    return _back(app, provider)


def _save_settings(request: HttpRequest, app: App) -> HttpResponse:
    form = push_forms.PushSettingsForm(request.POST, prefix=ACTION_SETTINGS)
    if form.is_valid():
        try:
            settings_update(app=app, **form.cleaned_data)
        except DomainError as exc:
            form.attach(exc)
        else:
            messages.success(request, "Push settings saved.")
            return _back(app, ACTION_SETTINGS)
    return _page(request, app, settings_form=form)


@never_cache
@csrf_protect
@app_page("GET", "POST")
def _push_page(request: HttpRequest, app: App) -> HttpResponse:
    if request.method != "POST":
        return _page(request, app)
    action = request.POST.get("action", "")
    if action in CREDENTIAL_FORMS:
        return _save_credentials(request, app, action)
    if action == ACTION_DELETE:
        return _delete_credentials(request, app)
    if action == ACTION_SETTINGS:
        return _save_settings(request, app)
    return HttpResponseBadRequest("Unknown form.")


@csrf_exempt  # only to swap the upload handlers first: _push_page checks the CSRF token itself
def app_push(request: HttpRequest, app_key: str) -> HttpResponse:
    """The push page. Uploads are kept in memory and capped before anything reads the body."""
    request.upload_handlers = [push_forms.CappedUploadHandler(request)]
    return _push_page(request, app_key)


@never_cache
@app_page("GET")
def app_push_log(request: HttpRequest, app: App) -> HttpResponse:
    counts = attempt_counts(app=app)
    empty = {"delivered": 0, "failed": 0, "pending": 0}
    totals = [
        {"provider": provider, "label": label, **counts.get(provider, empty)}
        for provider, label in Provider.choices
    ]
    context = {"app": app, "totals": totals, "attempts": attempts_page(app=app, limit=LOG_SIZE)}
    return render(request, "console/push_log.html", context)
