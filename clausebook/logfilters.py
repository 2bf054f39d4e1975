"""Secrets in URLs stay out of the logs: invitation tokens, email confirmation and password reset
keys, and ``token=``/``key=``/``code=``/``secret=`` query parameters.

An access log line is kept for weeks and read by people who must not be able to join a workspace
or reset a password with what they read. :class:`RedactSecretsInURLs` rewrites a record's
message before any handler formats it; :func:`install` puts it on the loggers that print
request lines: ``django.server`` (``runserver``), ``django.request`` (warnings naming a path) and
gunicorn's ``gunicorn.access`` / ``gunicorn.error``. It runs from ``ClausebookConfig.ready()``,
in every process that loads Django, gunicorn workers included.

Standard library only: gunicorn may import it before Django is set up.
"""

from __future__ import annotations

import logging
import re

REDACTED = "[redacted]"

_PATH_SECRETS = re.compile(
    r"(?P<prefix>/invitations/)(?!\d+/accept/)(?P<secret>[^/\s?#\"']+)"
    r"|(?P<prefix2>/accounts/confirm-email/)(?P<secret2>[^/\s?#\"']+)"
    r"|(?P<prefix3>/accounts/password/reset/key/)(?P<secret3>[^/\s?#\"']+)"
)
_QUERY_SECRETS = re.compile(r"(?P<name>[?&](?:token|key|code|secret)=)[^&\s#\"']*", re.IGNORECASE)

LOGGERS = ("django.server", "django.request", "gunicorn.access", "gunicorn.error")


def redact(text: str) -> str:
    """``text`` with every URL secret replaced by ``[redacted]``."""

    def path(match: re.Match[str]) -> str:
        prefix = match.group("prefix") or match.group("prefix2") or match.group("prefix3")
        return prefix + REDACTED

    text = _PATH_SECRETS.sub(path, text)
    return _QUERY_SECRETS.sub(lambda match: match.group("name") + REDACTED, text)


class RedactSecretsInURLs(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            # The formatted message replaces the template and its arguments, so no handler or
            # formatter can put the secret back (gunicorn's arguments are a dict of atoms).
            record.msg = cleaned
            record.args = ()
        return True


def install() -> None:
    """Attach the filter to :data:`LOGGERS` once (calling again adds nothing)."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, RedactSecretsInURLs) for existing in logger.filters):
            logger.addFilter(RedactSecretsInURLs())
