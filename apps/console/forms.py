"""Console forms. They check shape and limits; the services remain the authority on every rule,
and the views attach the services' DomainErrors back onto these forms."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm, UsernameField
from django.core.validators import URLValidator

from apps.accounts.models import Developer
from apps.accounts.services import developer_normalize_email
from apps.core.conf import setting_int
from apps.tenants import limits
from apps.tenants.models import App, MultiDevicePolicy

EMAIL_MAX_LENGTH = 254
WEBHOOK_URL_MAX_LENGTH = 500


class WebhookURLField(forms.URLField):
    """An absolute http(s) URL (a bare host gets https://); other schemes are refused."""

    default_validators = [URLValidator(schemes=["http", "https"])]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(assume_scheme="https", **kwargs)


class SignupForm(forms.Form):
    email = forms.EmailField(
        label="Email",
        max_length=EMAIL_MAX_LENGTH,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
        help_text="You sign in with this address; password reset links are sent to it.",
    )
    password1 = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="At least 8 characters, not entirely numeric, not a common password.",
    )
    password2 = forms.CharField(
        label="Password (again)",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean_email(self) -> str:
        return developer_normalize_email(email=self.cleaned_data["email"])

    def clean(self) -> dict[str, Any] | None:
        cleaned = super().clean()
        first = self.cleaned_data.get("password1")
        second = self.cleaned_data.get("password2")
        if first and second and first != second:
            self.add_error("password2", "The two passwords do not match.")
        return cleaned


class LoginForm(AuthenticationForm):
    """Django's login form with the email as the username, matched the way signup stores it."""

    username = UsernameField(
        label="Email", widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"})
    )
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "The email or password is not correct.",
    }

    def clean_username(self) -> str:
        return developer_normalize_email(email=self.cleaned_data["username"])


class ConsolePasswordResetForm(PasswordResetForm):
    """Also mails developers created without a password: they set their first one by reset."""

    def get_users(self, email: str) -> Iterator[Developer]:
        yield from Developer.objects.filter(
            email=developer_normalize_email(email=email), is_active=True
        ).order_by("id")


class AppNameForm(forms.Form):
    name = forms.CharField(
        label="App name",
        max_length=limits.APP_NAME_MAX_LENGTH,
        help_text=f"Up to {limits.APP_NAME_MAX_LENGTH} characters. Only you see it.",
    )


class AppCreateForm(AppNameForm):
    pass


class AppRenameForm(AppNameForm):
    pass


class AppSettingsForm(forms.Form):
    multi_device_policy = forms.ChoiceField(
        label="Multi-device login",
        choices=MultiDevicePolicy.choices,
        widget=forms.RadioSelect,
        help_text=(
            "Which devices of one end user may be signed in at the same time. "
            f"“All devices” allows up to {limits.MAX_DEVICES_ALL_POLICY}."
        ),
    )
    webhook_url = WebhookURLField(
        label="Webhook URL",
        required=False,
        max_length=WEBHOOK_URL_MAX_LENGTH,
        help_text=(
            f"An https:// or http:// URL, up to {WEBHOOK_URL_MAX_LENGTH} characters. Blank turns it off."
        ),
    )
    message_retention_days = forms.IntegerField(
        label="Message retention (days)",
        min_value=limits.RETENTION_DAYS_MIN,
        max_value=limits.RETENTION_DAYS_MAX,
        help_text=(
            f"How long messages are kept: {limits.RETENTION_DAYS_MIN} to {limits.RETENTION_DAYS_MAX} days."
        ),
    )
    api_rate_limit = forms.IntegerField(
        label="Server API rate limit (requests per second)",
        required=False,
        min_value=1,
        max_value=limits.API_RATE_LIMIT_MAX,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        default = setting_int("API_RATE_LIMIT_DEFAULT")
        field = self.fields["api_rate_limit"]
        field.help_text = (
            f"1 to {limits.API_RATE_LIMIT_MAX}. Leave blank for the default of {default} per second."
        )
        field.widget.attrs["placeholder"] = f"default: {default}"

    @classmethod
    def initial_for(cls, app: App) -> dict[str, Any]:
        return {
            "multi_device_policy": app.multi_device_policy,
            "webhook_url": app.webhook_url,
            "message_retention_days": app.message_retention_days,
            "api_rate_limit": app.api_rate_limit,
        }


class AppDeleteForm(forms.Form):
    confirm_name = forms.CharField(
        label="Type the app name to confirm",
        max_length=limits.APP_NAME_MAX_LENGTH,
        strip=False,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )

    def __init__(self, *args: Any, app: App, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.app = app
        self.fields["confirm_name"].help_text = f"Type “{app.name}” exactly."

    def clean_confirm_name(self) -> str:
        typed: str = self.cleaned_data["confirm_name"]
        if typed != self.app.name:
            raise forms.ValidationError("That is not the name of this app.", code="name_mismatch")
        return typed


class AppRotateForm(forms.Form):
    confirm = forms.BooleanField(
        label="I understand that the current AppSecret stops working at once.",
        required=True,
        error_messages={"required": "Tick the box to confirm: the current secret stops working at once."},
    )
