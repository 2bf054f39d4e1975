"""Personal API tokens: ``Authorization: Bearer cb_...``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import Any

from django.db import connections, router
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from clausebook.models import ApiToken, User


@dataclass(frozen=True)
class _Lookup:
    sql: str
    token_fields: list[str]
    user_fields: list[str]
    # (column index, its converters): the few values the ORM would convert on reading.
    converters: list[tuple[int, list[Any], Any]]


@cache
def _lookup(alias: str) -> _Lookup:
    """The active token with its user, by hash: what ``ApiToken.objects.active()
    .select_related("user").filter(token_hash=...)`` selects, written once per process. Building
    that queryset on every API request cost more CPU than running it; the statement reads the
    row as it is now, so a revoked token or a deactivated user fails at once (no cache)."""
    connection = connections[alias]
    qn = connection.ops.quote_name
    token, user = ApiToken._meta, User._meta
    fields = [*token.concrete_fields, *user.concrete_fields]
    columns = [f"t.{qn(f.column)}" for f in token.concrete_fields]
    columns += [f"u.{qn(f.column)}" for f in user.concrete_fields]
    sql = (
        f"SELECT {', '.join(columns)} FROM {qn(token.db_table)} t "  # noqa: S608 - model names
        f"JOIN {qn(user.db_table)} u ON u.{qn(user.pk.column)} = "
        f"t.{qn(token.get_field('user').column)} "
        f"WHERE t.{qn(token.get_field('token_hash').column)} = %s "
        f"AND t.{qn(token.get_field('revoked_at').column)} IS NULL"
    )
    converters = []
    for index, field in enumerate(fields):
        found = connection.ops.get_db_converters(field) + field.get_db_converters(connection)
        if found:
            converters.append((index, found, field))
    return _Lookup(
        sql=sql,
        token_fields=[f.attname for f in token.concrete_fields],
        user_fields=[f.attname for f in user.concrete_fields],
        converters=converters,
    )


def active_token(token_hash: str) -> ApiToken | None:
    """The unrevoked token with this hash, its ``user`` loaded, or None."""
    alias = router.db_for_read(ApiToken)
    lookup = _lookup(alias)
    connection = connections[alias]
    with connection.cursor() as cursor:
        cursor.execute(lookup.sql, [token_hash])
        row = cursor.fetchone()
    if row is None:
        return None
    values = list(row)
    for index, converters, field in lookup.converters:
        for converter in converters:
            values[index] = converter(values[index], field, connection)
    split = len(lookup.token_fields)
    token = ApiToken.from_db(alias, lookup.token_fields, values[:split])
    token.user = User.from_db(alias, lookup.user_fields, values[split:])
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
