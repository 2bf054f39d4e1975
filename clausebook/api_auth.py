"""Personal API tokens: ``Authorization: Bearer cb_...``."""

from __future__ import annotations

from datetime import timedelta
from functools import cache

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from clausebook.joined_reads import JoinedReader, model_columns, table
from clausebook.models import ApiToken, User


@cache
def _token_reader() -> JoinedReader:
    """What ``ApiToken.objects.active().select_related("user").filter(token_hash=...)`` selects,
    on every API request (see ``joined_reads``): a revoked token or a deactivated user fails at
    once."""
    token, user = model_columns(ApiToken, "t"), model_columns(User, "u")
    sql = (
        f"SELECT {token.select}, {user.select} FROM {table(ApiToken)} t "  # noqa: S608 - model names
        f"JOIN {table(User)} u ON u.id = t.user_id "
        "WHERE t.token_hash = %s AND t.revoked_at IS NULL"
    )
    return JoinedReader(sql, (token, user))


def active_token(token_hash: str) -> ApiToken | None:
    """The unrevoked token with this hash, its ``user`` loaded, or None."""
    found = _token_reader().one([token_hash])
    if found is None:
        return None
    token, user = found
    token.user = user
    return token


class ApiTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[User, ApiToken] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        parts = header.split()
        if len(parts) != 2 or parts[0] not in {"Bearer", "Token"}:
            return None
        raw = parts[1]
        if not raw.startswith(ApiToken.PREFIX):
            raise exceptions.AuthenticationFailed("Malformed API token.")
        token = active_token(ApiToken.hash_token(raw))
        if token is None or not token.user.is_active:
            raise exceptions.AuthenticationFailed("Invalid or revoked API token.")
        now = timezone.now()
        # Writing last_used on every request would turn reads into writes; once a minute is enough.
        if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """Documents the token scheme in the OpenAPI schema (drf-spectacular picks it up by class)."""

    target_class = "clausebook.api_auth.ApiTokenAuthentication"
    name = "ApiToken"

    def get_security_definition(self, auto_schema: object) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal API token (`cb_…`) created under Settings → API tokens.",
        }
