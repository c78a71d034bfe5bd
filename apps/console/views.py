"""The developer console: server-rendered pages over the accounts and tenants services.

Views stay thin: they parse a form, call one service or selector, and render. Every app page looks
the app up through ``app_get_for_owner`` first, so another developer's AppKey is a 404 whatever the
method. The AppSecret only ever appears in the response to a POST, never in a GET or a URL.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from apps.accounts.models import Developer
from apps.accounts.services import developer_create
from apps.console import forms
from apps.console.selectors import dashboard_newest_users, dashboard_user_figures
from apps.core.conf import setting_int
from apps.core.errors import DomainError, NotFound
from apps.tenants import limits
from apps.tenants.models import App
from apps.tenants.selectors import app_get_for_owner, app_list_for_owner
from apps.tenants.services import (
    app_create,
    app_delete,
    app_rename,
    app_rotate_secret,
    app_update_settings,
)

# Where the console sends people for the server API (outside this app's URLconf).
API_BASE_PATH = "/api/v1/"


def _developer(request: HttpRequest) -> Developer:
    user = request.user
    if not isinstance(user, Developer):  # login_required has already sent anonymous visitors away
        raise PermissionDenied
    return user


def _owned_app(request: HttpRequest, app_key: str) -> App:
    try:
        return app_get_for_owner(owner=_developer(request), app_key=app_key)
    except NotFound as exc:
        raise Http404(exc.detail) from exc


AppView = Callable[[HttpRequest, App], HttpResponse]


def app_page(*methods: str) -> Callable[[AppView], Callable[[HttpRequest, str], HttpResponse]]:
    """A signed-in developer's page about one of their apps.

    The app is looked up before the method is checked, so another developer's AppKey is a 404 for
    every method (a 405 would tell them the app exists)."""

    def decorate(view: AppView) -> Callable[[HttpRequest, str], HttpResponse]:
        @wraps(view)
        def wrapper(request: HttpRequest, app_key: str) -> HttpResponse:
            app = _owned_app(request, app_key)
            if request.method not in methods:
                return HttpResponseNotAllowed(methods)
            return view(request, app)

        return login_required(wrapper)

    return decorate


def _attach(form: Form, error: DomainError) -> None:
    """Put a service's refusal on the form field it concerns (or on the form as a whole)."""
    field = error.field if error.field in form.fields else None
    form.add_error(field, error.detail)


# --- Entry and accounts ----------------------------------------------------------------------------


def home(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("console:app_list")
    return redirect("console:login")


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("console:app_list")
    if request.method != "POST":
        form = forms.SignupForm()
    elif (form := forms.SignupForm(request.POST)).is_valid():
        try:
            developer = developer_create(
                email=form.cleaned_data["email"], password=form.cleaned_data["password1"]
            )
        except DomainError as exc:
            _attach(form, exc)
        except ValidationError as exc:  # the password validators
            form.add_error("password1", exc)
        else:
            login(request, developer, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, "Welcome to imcloud. Create your first app below.")
            return redirect("console:app_list")
    return render(
        request, "registration/signup.html", {"form": form, "max_apps": limits.MAX_APPS_PER_DEVELOPER}
    )


# --- Apps ------------------------------------------------------------------------------------------


def _app_list_page(request: HttpRequest, form: forms.AppCreateForm) -> HttpResponse:
    apps = app_list_for_owner(owner=_developer(request))
    return render(
        request,
        "console/app_list.html",
        {"apps": apps, "form": form, "max_apps": limits.MAX_APPS_PER_DEVELOPER},
    )


@login_required
@require_http_methods(["GET"])
def app_list(request: HttpRequest) -> HttpResponse:
    return _app_list_page(request, forms.AppCreateForm())


@login_required
@require_http_methods(["POST"])
def app_create_view(request: HttpRequest) -> HttpResponse:
    form = forms.AppCreateForm(request.POST)
    if form.is_valid():
        try:
            app = app_create(owner=_developer(request), name=form.cleaned_data["name"])
        except DomainError as exc:
            _attach(form, exc)
        else:
            messages.success(request, f"Created “{app.name}”. Its AppKey and AppSecret are below.")
            return redirect("console:app_detail", app_key=app.app_key)
    return _app_list_page(request, form)


def _detail_page(
    request: HttpRequest,
    app: App,
    *,
    secret: str | None = None,
    rotated: bool = False,
    rotate_form: forms.AppRotateForm | None = None,
) -> HttpResponse:
    context: dict[str, Any] = {
        "app": app,
        "secret": secret,
        "rotated": rotated,
        "rotate_form": rotate_form or forms.AppRotateForm(),
        "api_base": request.build_absolute_uri(API_BASE_PATH),
    }
    return render(request, "console/app_detail.html", context)


@never_cache
@app_page("GET")
def app_detail(request: HttpRequest, app: App) -> HttpResponse:
    return _detail_page(request, app)


@never_cache
@app_page("POST")
def app_secret(request: HttpRequest, app: App) -> HttpResponse:
    return _detail_page(request, app, secret=app.secret)


@never_cache
@app_page("POST")
def app_rotate(request: HttpRequest, app: App) -> HttpResponse:
    form = forms.AppRotateForm(request.POST)
    if not form.is_valid():
        return _detail_page(request, app, rotate_form=form)
    secret = app_rotate_secret(app=app)
    return _detail_page(request, app, secret=secret, rotated=True)


@app_page("GET", "POST")
def app_rename_view(request: HttpRequest, app: App) -> HttpResponse:
    if request.method != "POST":
        form = forms.AppRenameForm(initial={"name": app.name})
    elif (form := forms.AppRenameForm(request.POST)).is_valid():
        try:
            app_rename(app=app, name=form.cleaned_data["name"])
        except DomainError as exc:
            _attach(form, exc)
        else:
            messages.success(request, f"Renamed to “{app.name}”.")
            return redirect("console:app_detail", app_key=app.app_key)
    return render(request, "console/app_rename.html", {"app": app, "form": form})


@app_page("GET", "POST")
def app_settings_view(request: HttpRequest, app: App) -> HttpResponse:
    if request.method != "POST":
        form = forms.AppSettingsForm(initial=forms.AppSettingsForm.initial_for(app))
    elif (form := forms.AppSettingsForm(request.POST)).is_valid():
        try:
            app_update_settings(
                app=app,
                multi_device_policy=form.cleaned_data["multi_device_policy"],
                webhook_url=form.cleaned_data["webhook_url"],
                message_retention_days=form.cleaned_data["message_retention_days"],
                api_rate_limit=form.cleaned_data["api_rate_limit"],
            )
        except DomainError as exc:
            _attach(form, exc)
        else:
            messages.success(request, "Settings saved.")
            return redirect("console:app_settings", app_key=app.app_key)
    return render(
        request,
        "console/app_settings.html",
        {"app": app, "form": form, "default_rate_limit": setting_int("API_RATE_LIMIT_DEFAULT")},
    )


@app_page("GET", "POST")
def app_delete_view(request: HttpRequest, app: App) -> HttpResponse:
    if request.method != "POST":
        form = forms.AppDeleteForm(app=app)
    elif (form := forms.AppDeleteForm(request.POST, app=app)).is_valid():
        name = app.name
        app_delete(app=app)
        messages.success(request, f"Deleted “{name}” and all of its data.")
        return redirect("console:app_list")
    return render(request, "console/app_delete.html", {"app": app, "form": form})


@app_page("GET")
def app_dashboard(request: HttpRequest, app: App) -> HttpResponse:
    context = {
        "app": app,
        "figures": dashboard_user_figures(app=app),
        "newest_users": dashboard_newest_users(app=app),
    }
    return render(request, "console/app_dashboard.html", context)
