"""Console pages for webhooks: which events are copied, the before-delivery callback, and the
delivery log with a Resend button. Scoped to the developer's own app like every app page
(``app_page``); the services in apps.webhooks remain the authority on every rule."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from apps.console.forms import WebhookURLField
from apps.console.views import app_page
from apps.core.errors import DomainError, NotFound
from apps.tenants.models import App
from apps.webhooks.models import (
    CALLBACK_TIMEOUT_MAX_MS,
    CALLBACK_TIMEOUT_MIN_MS,
    URL_MAX_LENGTH,
    DeliveryStatus,
    EventType,
    WebhookConfig,
)
from apps.webhooks.selectors import webhook_config_for, webhook_deliveries_for
from apps.webhooks.services import webhook_config_update, webhook_resend

PAGE_SIZE = 20
FAIL_OPEN, FAIL_CLOSED = "open", "closed"


class WebhookConfigForm(forms.Form):
    enabled = forms.BooleanField(label="Send webhooks to this app's webhook URL", required=False)
    events = forms.MultipleChoiceField(
        label="Events",
        choices=EventType.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Each chosen event is POSTed to the webhook URL, signed, and retried for up to 24 hours.",
    )
    callback_url = WebhookURLField(
        label="Before-delivery callback URL",
        required=False,
        max_length=URL_MAX_LENGTH,
        help_text="Asked about every message before it is delivered; it may reject or rewrite it. "
        "Blank turns it off.",
    )
    callback_fail_open = forms.ChoiceField(
        label="When the callback does not answer in time",
        choices=[
            (FAIL_OPEN, "Deliver the message (fail-open)"),
            (FAIL_CLOSED, "Refuse the message (fail-closed)"),
        ],
        widget=forms.RadioSelect,
    )
    callback_timeout_ms = forms.IntegerField(
        label="Callback timeout (milliseconds)",
        min_value=CALLBACK_TIMEOUT_MIN_MS,
        max_value=CALLBACK_TIMEOUT_MAX_MS,
        help_text=f"{CALLBACK_TIMEOUT_MIN_MS} to {CALLBACK_TIMEOUT_MAX_MS} ms.",
    )

    @classmethod
    def initial_for(cls, config: WebhookConfig) -> dict[str, Any]:
        return {
            "enabled": config.enabled,
            "events": list(config.events),
            "callback_url": config.callback_url,
            "callback_fail_open": FAIL_OPEN if config.callback_fail_open else FAIL_CLOSED,
            "callback_timeout_ms": config.callback_timeout_ms,
        }


class ResendForm(forms.Form):
    event_id = forms.UUIDField()


def _log_page(request: HttpRequest, app: App) -> dict[str, Any]:
    status = request.GET.get("status", "")
    status = status if status in DeliveryStatus.values else ""
    deliveries = webhook_deliveries_for(app=app, status=status)
    page = Paginator(deliveries, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [
        {"delivery": d, "payload": json.dumps(d.event.payload, indent=2, ensure_ascii=False, sort_keys=True)}
        for d in page.object_list
    ]
    return {"page": page, "rows": rows, "status": status, "statuses": DeliveryStatus.choices}


@app_page("GET", "POST")
def webhooks_view(request: HttpRequest, app: App) -> HttpResponse:
    config = webhook_config_for(app=app)
    if request.method != "POST":
        form = WebhookConfigForm(initial=WebhookConfigForm.initial_for(config))
    elif (form := WebhookConfigForm(request.POST)).is_valid():
        data = form.cleaned_data
        try:
            webhook_config_update(
                app=app,
                events=data["events"],
                enabled=data["enabled"],
                callback_url=data["callback_url"],
                callback_fail_open=data["callback_fail_open"] == FAIL_OPEN,
                callback_timeout_ms=data["callback_timeout_ms"],
            )
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.detail)
        else:
            messages.success(request, "Webhook settings saved.")
            return redirect("console:app_webhooks", app_key=app.app_key)
    context = {"app": app, "form": form, "resend_form": ResendForm(), **_log_page(request, app)}
    return render(request, "console/webhooks.html", context)


@app_page("POST")
def webhook_resend_view(request: HttpRequest, app: App) -> HttpResponse:
    form = ResendForm(request.POST)
    if not form.is_valid():
        raise Http404("No such webhook event.")
    event_id = form.cleaned_data["event_id"]
    try:
        webhook_resend(app=app, event_id=event_id)
    except NotFound as exc:
        raise Http404(exc.detail) from exc
    except DomainError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, f"Event {event_id} will be sent again.")
    target = reverse("console:app_webhooks", args=[app.app_key])
    back = request.POST.get("page", "")
    return redirect(f"{target}?page={back}#log" if back.isascii() and back.isdigit() else f"{target}#log")
