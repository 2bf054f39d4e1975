"""Absolute links for emails: where the person who clicks should land."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def link_base(request: HttpRequest | None) -> str:
    """``SITE_URL`` when it is set; else the scheme, host and port of ``request``.

    Invitation links pointed at port 8000 whatever port the server ran on. The request's host
    is one ``ALLOWED_HOSTS`` accepted (Django refuses any other), so it cannot be forged into
    a link elsewhere. Without a request (a command), ``SITE_URL`` must be set.
    """
    if settings.SITE_URL:
        return settings.SITE_URL.rstrip("/")
    if request is None:
        raise ValueError("SITE_URL is not set, and there is no request to build a link from")
    return request.build_absolute_uri("/").rstrip("/")
