"""Console forms for push: one per provider's credentials, the VAPID generator, and the settings.

The forms only read what the developer sent (uploads as UTF-8 text, JSON parsed) and check its
shape; the providers' ``validate_credentials`` (through ``apps.push.services``) remain the
authority on the credentials themselves, and the view attaches their ``InvalidField`` errors back
onto these forms with ``attach``. Secrets are never rendered back into a form.
"""

from __future__ import annotations

import json
from io import BytesIO
from typing import Any

from django import forms
from django.core.files.uploadedfile import InMemoryUploadedFile, UploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from django.db import models

from apps.core.errors import DomainError, InvalidField
from apps.push.models import Provider, PushSettings
from apps.push.templates import check_template as check_push_template

# The largest upload accepted: a .p8 key is about 250 bytes, a service-account JSON about 2.4 KiB.
# The same figure as DATA_UPLOAD_MAX_MEMORY_SIZE, which bounds the form's other fields.
MAX_UPLOAD_BYTES = 64 * 1024
MAX_UPLOAD_KIB = MAX_UPLOAD_BYTES // 1024

RATE_PER_SECOND_MAX = 100_000


class CappedUploadHandler(FileUploadHandler):
    """Keeps each uploaded file in memory, but never more than MAX_UPLOAD_BYTES + 1 bytes of it.

    The rest of a larger file is read and dropped; the file keeps its real size, so the form can
    refuse it as too large without a big upload ever filling memory or a temporary file."""

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.buffer = BytesIO()

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        room = MAX_UPLOAD_BYTES + 1 - self.buffer.tell()
        if room > 0:
            self.buffer.write(raw_data[:room])
        return None

    def file_complete(self, file_size: int) -> UploadedFile | None:
        self.buffer.seek(0)
        return InMemoryUploadedFile(
            file=self.buffer,
            field_name=self.field_name,
            name=self.file_name or "upload",
            content_type=self.content_type or "application/octet-stream",
            size=file_size,
            charset=self.charset,
            content_type_extra=self.content_type_extra,
        )


class SecretTextarea(forms.Textarea):
    """A textarea that, like a password input, never renders its value back into the page."""

    def format_value(self, value: Any) -> str | None:
        return None


def read_text_upload(upload: UploadedFile, *, what: str) -> str:
    """An uploaded file's text: at most MAX_UPLOAD_BYTES, UTF-8 (a BOM is dropped)."""
    if upload.size is None or upload.size > MAX_UPLOAD_BYTES:
        raise forms.ValidationError(
            f"{what} is too large: upload a file of at most {MAX_UPLOAD_KIB} KiB.", code="too_large"
        )
    raw: bytes = upload.read(MAX_UPLOAD_BYTES + 1)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise forms.ValidationError(f"{what} is not a UTF-8 text file.", code="not_text") from None
    if "\x00" in text:
        raise forms.ValidationError(f"{what} is not a text file.", code="not_text")
    return text


class CredentialsForm(forms.Form):
    """A provider's credentials form: ``data_for_service`` is what ``credentials_set`` checks."""

    provider: str
    # A field named in a provider's InvalidField -> the field of this form that shows the error.
    field_aliases: dict[str, str] = {}

    def data_for_service(self) -> dict[str, Any]:
        return dict(self.cleaned_data)

    def attach(self, error: DomainError) -> None:
        """Put the service's refusal on the field it concerns, or on the form as a whole."""
        field = self.field_aliases.get(error.field or "", error.field)
        self.add_error(field if field in self.fields else None, error.detail)


class ApnsCredentialsForm(CredentialsForm):
    provider = Provider.APNS

    private_key = forms.FileField(
        label="Auth key (.p8 file)",
        help_text="The AuthKey_XXXXXXXXXX.p8 file downloaded from Apple Developer → Keys. "
        "It is stored encrypted and never shown again.",
    )
    key_id = forms.CharField(
        label="Key ID",
        max_length=10,
        help_text="The 10-character id of the key (it is in the file name).",
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": "ABC123DEFG"}),
    )
    team_id = forms.CharField(
        label="Team ID",
        max_length=10,
        help_text="Your Apple Developer team id: 10 letters and digits.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": "DEF123GHIJ"}),
    )
    bundle_id = forms.CharField(
        label="Bundle ID",
        max_length=255,
        help_text="The app's bundle id, the default APNs topic.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": "com.example.chat"}),
    )
    environment = forms.ChoiceField(
        label="Environment",
        choices=[
            ("production", "Production (App Store and TestFlight builds)"),
            ("sandbox", "Sandbox (development builds from Xcode)"),
        ],
        initial="production",
        widget=forms.RadioSelect,
    )

    def clean_private_key(self) -> str:
        return read_text_upload(self.cleaned_data["private_key"], what="The .p8 file")


class FcmCredentialsForm(CredentialsForm):
    provider = Provider.FCM
    field_aliases = {"service_account": "service_account"}

    service_account_file = forms.FileField(
        label="Service-account key file (JSON)",
        required=False,
        help_text="Firebase console → Project settings → Service accounts → Generate new private key.",
    )
    service_account = forms.CharField(
        label="… or paste its contents",
        required=False,
        strip=False,
        max_length=MAX_UPLOAD_BYTES,
        widget=SecretTextarea(attrs={"rows": 6, "cols": 70, "spellcheck": "false", "autocomplete": "off"}),
        help_text="Stored encrypted; only the project id and client email are shown again.",
    )

    def clean(self) -> dict[str, Any] | None:
        cleaned = super().clean()
        upload = self.cleaned_data.get("service_account_file")
        pasted = self.cleaned_data.get("service_account") or ""
        if upload:
            source = "service_account_file"
            try:
                text = read_text_upload(upload, what="The key file")
            except forms.ValidationError as exc:
                self.add_error(source, exc)
                return cleaned
        elif pasted.strip():
            source, text = "service_account", pasted
        else:
            if not self.has_error("service_account_file") and not self.has_error("service_account"):
                self.add_error("service_account_file", "Upload the service-account JSON file or paste it.")
            return cleaned
        self.field_aliases = {"service_account": source}
        try:
            account = json.loads(text)
        except ValueError:
            self.add_error(source, "This is not JSON: upload the service-account key file as downloaded.")
            return cleaned
        if not isinstance(account, dict):
            self.add_error(source, "The service-account JSON must be an object ({ … }).")
            return cleaned
        self.cleaned_data["account"] = account
        return cleaned

    def data_for_service(self) -> dict[str, Any]:
        return {"service_account": self.cleaned_data["account"]}


class HuaweiCredentialsForm(CredentialsForm):
    provider = Provider.HUAWEI

    app_id = forms.CharField(
        label="App ID",
        max_length=20,
        help_text="AppGallery Connect → your app → App information: the numeric app id.",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    client_secret = forms.CharField(
        label="Client secret",
        max_length=256,
        strip=False,
        help_text="The OAuth 2.0 client secret of the app. Stored encrypted; never shown again.",
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
    )
    badge_class = forms.CharField(
        label="Badge activity class (optional)",
        max_length=255,
        required=False,
        help_text="The full class name of the app's launcher activity, to set the icon badge.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": "com.example.chat.MainActivity"}),
    )


class XiaomiCredentialsForm(CredentialsForm):
    provider = Provider.XIAOMI

    app_secret = forms.CharField(
        label="AppSecret",
        max_length=256,
        strip=False,
        help_text="Mi Push console → your app → AppSecret. Stored encrypted; never shown again.",
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
    )
    package_name = forms.CharField(
        label="Package name",
        max_length=255,
        help_text="The Android package name registered with Mi Push.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": "com.example.chat"}),
    )


class VapidGenerateForm(CredentialsForm):
    provider = Provider.WEBPUSH

    subject = forms.CharField(
        label="Contact (VAPID subject)",
        max_length=512,
        help_text="A mailto: address or an https: URL where push services can reach you.",
        widget=forms.TextInput(attrs={"placeholder": "mailto:ops@example.com"}),
    )


class CredentialsDeleteForm(forms.Form):
    provider = forms.ChoiceField(choices=Provider.choices, widget=forms.HiddenInput)


def check_template(value: str) -> None:
    """The form's validator: the service's own check, as a form error."""
    try:
        check_push_template(value, field="template")
    except InvalidField as exc:
        raise forms.ValidationError(exc.detail, code="bad_template") from None


def _template_field(label: str, model_field: str, help_text: str) -> forms.CharField:
    model = PushSettings._meta.get_field(model_field)
    assert isinstance(model, models.CharField)
    return forms.CharField(
        label=label,
        max_length=model.max_length,
        strip=False,
        validators=[check_template],
        help_text=help_text,
    )


class PushSettingsForm(forms.Form):
    p2p_title = _template_field(
        "One-to-one title", "p2p_title", "Placeholders: {sender}, {preview}. Default: {sender}"
    )
    p2p_body = _template_field("One-to-one body", "p2p_body", "Default: {preview}")
    team_title = _template_field(
        "Team title", "team_title", "Placeholders: {sender}, {team}, {preview}. Default: {team}"
    )
    team_body = _template_field("Team body", "team_body", "Default: {sender}: {preview}")
    show_preview = forms.BooleanField(
        label="Show a preview of the message text",
        required=False,
        help_text="Off: {preview} becomes “New message”.",
    )
    mute_mobile_while_desktop_online = forms.BooleanField(
        label="No mobile push while the user is online on a desktop or the web",
        required=False,
    )
    rate_per_second = forms.IntegerField(
        label="Rate limit (notifications per second)",
        min_value=1,
        max_value=RATE_PER_SECOND_MAX,
        help_text=f"1 to {RATE_PER_SECOND_MAX:,}. Notifications beyond it wait for the next second.",
    )

    @classmethod
    def initial_for(cls, settings: PushSettings) -> dict[str, Any]:
        return {name: getattr(settings, name) for name in cls.base_fields}

    def attach(self, error: DomainError) -> None:
        self.add_error(error.field if error.field in self.fields else None, error.detail)
