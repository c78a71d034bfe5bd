"""A local FCM HTTP v1 and its Google OAuth 2.0 token endpoint.

``POST /token`` verifies the service account's RS256 JWT assertion (registered key, iss, aud =
this token URL, scope, a lifetime of at most an hour) and issues a bearer access token.
``POST /v1/projects/{project}/messages:send`` checks that token (and its project), validates the
message as FCM does and answers with FCM's error bodies: ``{"error": {"code", "message",
"status", "details": [{"@type": ...FcmError, "errorCode"}]}}``.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.push_servers.base import PushServer, Request, Response, Scripted, run_cli

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"
TOKEN_RE = re.compile(r"^[A-Za-z0-9_\-:.]{32,4096}$")
TTL_RE = re.compile(r"^\d+(\.\d{1,9})?s$")
TOKEN_ENDPOINT = "(token endpoint)"  # the script key of the OAuth endpoint
ACCESS_TOKEN_LIFETIME = 3599
STATUS_OF = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


@dataclass(frozen=True)
class Account:
    client_email: str
    project_id: str
    public_key: rsa.RSAPublicKey


@dataclass(frozen=True)
class Received:
    project_id: str
    message: dict[str, Any]
    headers: dict[str, str]
    access_token: str


class FcmServer(PushServer):
    name = "fcm"

    def __init__(self) -> None:
        self.accounts: dict[str, Account] = {}
        super().__init__()

    def reset(self) -> None:
        super().reset()
        with self.lock:
            self.delivered: list[Received] = []
            self.assertions: list[dict[str, Any]] = []  # claims of each accepted assertion
            self.access_tokens: dict[str, tuple[str, float]] = {}  # token -> (client_email, expires)
            self.send_attempts = 0

    @property
    def token_uri(self) -> str:
        return f"{self.url}/token"

    # --- set-up -----------------------------------------------------------------------------------
    def new_service_account(
        self,
        *,
        project_id: str = "imcloud-test",
        client_email: str = "push@imcloud-test.iam.gserviceaccount.com",
    ) -> dict[str, str]:
        """Register a fresh service account; return its JSON key file (as a dict)."""
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        with self.lock:
            self.accounts[client_email] = Account(client_email, project_id, private.public_key())
        pem = private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        return {
            "type": "service_account",
            "project_id": project_id,
            "private_key_id": secrets.token_hex(20),
            "private_key": pem,
            "client_email": client_email,
            "client_id": "1234567890",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": self.token_uri,
        }

    def fail_token_requests(
        self,
        status: int,
        error: str = "",
        *,
        message: str = "",
        retry_after: str | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next token request(s) with ``status`` and an OAuth error body."""
        self.script(TOKEN_ENDPOINT, Scripted(status, error, retry_after, times, message))

    def revoke_access_tokens(self) -> None:
        """Every issued access token stops working (the next send gets 401 UNAUTHENTICATED)."""
        with self.lock:
            self.access_tokens.clear()

    def set_error(
        self,
        token: str,
        status: int,
        error_code: str = "",
        *,
        retry_after: str | None = None,
        times: int | None = None,
        message: str = "",
        token_violation: bool = False,
    ) -> None:
        """Answer sends to ``token`` with an FCM error (errorCode in an FcmError detail when given)."""
        extra = {"token_violation": token_violation}
        self.script(token, Scripted(status, error_code, retry_after, times, message, extra))

    # --- protocol ---------------------------------------------------------------------------------
    @staticmethod
    def error(
        status: int,
        message: str,
        *,
        error_code: str = "",
        token_violation: bool = False,
        retry_after: str | None = None,
    ) -> Response:
        details: list[dict[str, Any]] = []
        if error_code:
            details.append({"@type": FCM_ERROR, "errorCode": error_code})
        if token_violation:
            details.append(
                {
                    "@type": BAD_REQUEST,
                    "fieldViolations": [
                        {"field": "message.token", "description": "Invalid registration token"}
                    ],
                }
            )
        error: dict[str, Any] = {
            "code": status,
            "message": message,
            "status": STATUS_OF.get(status, "UNKNOWN"),
        }
        if details:
            error["details"] = details
        headers = [("retry-after", retry_after)] if retry_after is not None else []
        return Response.json(status, {"error": error}, headers)

    def handle(self, request: Request) -> Response:
        if request.method == "POST" and request.path == "/token":
            return self._token(request)
        match = re.fullmatch(r"/v1/projects/([^/]+)/messages:send", request.path)
        if match is not None and request.method == "POST":
            return self._send(request, match.group(1))
        return self.error(404, "Not found")

    def _token(self, request: Request) -> Response:
        form = request.form()
        scripted = self.take_script(TOKEN_ENDPOINT)
        if scripted is not None:
            headers = [("retry-after", scripted.retry_after)] if scripted.retry_after is not None else []
            return Response.json(
                scripted.status,
                {"error": scripted.error or "backendError", "error_description": scripted.message},
                headers,
            )
        if form.get("grant_type") != GRANT_TYPE:
            return Response.json(
                400, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type"}
            )
        assertion = form.get("assertion", "")
        try:
            unverified = jwt.decode(assertion, options={"verify_signature": False})
            header = jwt.get_unverified_header(assertion)
        except jwt.PyJWTError:
            return Response.json(400, {"error": "invalid_grant", "error_description": "Invalid JWT."})
        account = self.accounts.get(str(unverified.get("iss", "")))
        if account is None or header.get("alg") != "RS256":
            return Response.json(
                400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
            )
        try:
            claims = jwt.decode(
                assertion,
                account.public_key,
                algorithms=["RS256"],
                audience=self.token_uri,
                options={
                    "require": ["iss", "aud", "iat", "exp", "scope"],
                    "verify_iat": False,
                    "verify_exp": False,
                },
            )
        except jwt.InvalidAudienceError:
            return Response.json(
                400, {"error": "invalid_grant", "error_description": "Invalid JWT: audience"}
            )
        except jwt.PyJWTError:
            return Response.json(
                400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
            )
        now = self.now()
        if not (claims["iat"] - 60 <= now <= claims["exp"]) or claims["exp"] - claims["iat"] > 3600:
            return Response.json(
                400,
                {
                    "error": "invalid_grant",
                    "error_description": "Invalid JWT: Token must be a short-lived token",
                },
            )
        if SCOPE not in str(claims["scope"]).split():
            return Response.json(400, {"error": "invalid_scope", "error_description": "Invalid OAuth scope."})
        self.assertions.append(claims)
        access_token = "ya29." + secrets.token_urlsafe(32)
        self.access_tokens[access_token] = (account.client_email, now + ACCESS_TOKEN_LIFETIME)
        return Response.json(
            200, {"access_token": access_token, "expires_in": ACCESS_TOKEN_LIFETIME, "token_type": "Bearer"}
        )

    def _send(self, request: Request, project_id: str) -> Response:
        self.send_attempts += 1
        scheme, _, access_token = request.headers.get("authorization", "").partition(" ")
        issued = self.access_tokens.get(access_token) if scheme.lower() == "bearer" else None
        if issued is None or issued[1] < self.now():
            return self.error(
                401,
                "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie "
                "or other valid authentication credential.",
            )
        if self.accounts[issued[0]].project_id != project_id:
            return self.error(
                403,
                f"Permission 'cloudmessaging.messages.create' denied on resource '//projects/{project_id}'",
            )
        try:
            message = request.json()["message"]
        except (ValueError, KeyError, TypeError):
            return self.error(400, "Invalid JSON payload received.", error_code="INVALID_ARGUMENT")
        problem = _message_problem(message)
        if problem:
            return self.error(400, problem, error_code="INVALID_ARGUMENT")
        token = message["token"]
        if not TOKEN_RE.fullmatch(token):
            return self.error(
                400,
                "The registration token is not a valid FCM registration token",
                error_code="INVALID_ARGUMENT",
            )
        scripted = self.take_script(token)
        if scripted is not None:
            return self.error(
                scripted.status,
                scripted.message or scripted.error or "error",
                error_code=scripted.error,
                token_violation=bool(scripted.extra.get("token_violation")),
                retry_after=scripted.retry_after,
            )
        self.delivered.append(Received(project_id, message, dict(request.headers), access_token))
        response = Response.json(200, {"name": f"projects/{project_id}/messages/0:{secrets.token_hex(8)}"})
        response.delay = self.delay_for(token)
        return response


def _message_problem(message: Any) -> str:
    """What FCM would refuse in the message (INVALID_ARGUMENT), or ""."""
    if not isinstance(message, dict):
        return "Invalid value at 'message'"
    targets = [key for key in ("token", "topic", "condition") if key in message]
    if len(targets) != 1 or not isinstance(message.get("token"), str):
        return "Invalid value at 'message': exactly one of token, topic, condition"
    notification = message.get("notification", {})
    if not isinstance(notification, dict) or not all(isinstance(v, str) for v in notification.values()):
        return "Invalid value at 'message.notification'"
    data = message.get("data", {})
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        return "Invalid value at 'message.data': values must be strings"
    reserved = {"from", "notification", "message_type"} | {
        k for k in data if k.startswith(("google.", "gcm."))
    }
    if reserved & set(data):
        return "Invalid data payload key"
    android = message.get("android", {})
    if not isinstance(android, dict):
        return "Invalid value at 'message.android'"
    if android.get("priority", "NORMAL") not in {"NORMAL", "HIGH"}:
        return "Invalid value at 'message.android.priority'"
    if "ttl" in android and not (isinstance(android["ttl"], str) and TTL_RE.fullmatch(android["ttl"])):
        return "Invalid value at 'message.android.ttl' (type.googleapis.com/google.protobuf.Duration)"
    android_notification = android.get("notification", {})
    count = android_notification.get("notification_count") if isinstance(android_notification, dict) else None
    if count is not None and (not isinstance(count, int) or count < 0):
        return "Invalid value at 'message.android.notification.notification_count'"
    apns = message.get("apns", {})
    if not isinstance(apns, dict) or not all(isinstance(v, str) for v in apns.get("headers", {}).values()):
        return "Invalid value at 'message.apns.headers'"
    return ""


def main() -> None:
    server = FcmServer()
    run_cli(server, setup=lambda _: server.cli_info.update(service_account=server.new_service_account()))


if __name__ == "__main__":
    main()
