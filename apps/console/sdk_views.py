"""Console pages for the client SDKs: the SDK page of an app and its per-app archive downloads.

Scoped to the developer's own app like every app page (``app_page``: another developer's AppKey is
a 404). The archives are built by ``apps.console.sdk_archive``; they hold the AppKey, never the
AppSecret.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache

from apps.console import sdk_archive
from apps.console.views import app_page
from apps.tenants.models import App


def _public_url(request: HttpRequest) -> str:
    return sdk_archive.public_base_url(request_base=request.build_absolute_uri("/"))


@app_page("GET")
def app_sdk(request: HttpRequest, app: App) -> HttpResponse:
    preset = sdk_archive.preset_for(app=app, public_url=_public_url(request))
    sdks = [
        {
            "info": info,
            "filename": sdk_archive.archive_filename(info.spec, app.app_key),
            "url": reverse(f"console:app_sdk_{info.spec.name}", args=[app.app_key]),
            "quick_start": sdk_archive.quick_start(info.spec, preset, needs_build=info.needs_build),
        }
        for info in sdk_archive.sdk_infos()
    ]
    context = {
        "app": app,
        "preset": preset,
        "sdks": sdks,
    }
    return render(request, "console/sdk.html", context)


def _download(request: HttpRequest, app: App, sdk: str) -> HttpResponse:
    try:
        archive = sdk_archive.build_sdk_archive(app=app, sdk=sdk, public_url=_public_url(request))
    except sdk_archive.SdkUnavailable as exc:
        raise Http404(str(exc)) from exc
    response = HttpResponse(archive.content, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{archive.filename}"'
    return response


@never_cache
@app_page("GET")
def app_sdk_python(request: HttpRequest, app: App) -> HttpResponse:
    return _download(request, app, sdk_archive.PYTHON.name)


@never_cache
@app_page("GET")
def app_sdk_typescript(request: HttpRequest, app: App) -> HttpResponse:
    return _download(request, app, sdk_archive.TYPESCRIPT.name)
