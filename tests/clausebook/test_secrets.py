"""Secrets at rest: encrypted under the environment's keys, rotatable, never printed."""

from __future__ import annotations

import logging
import stat
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from clausebook import secrets
from reviews.models import ModelEndpoint
from reviews.services.endpoints import EndpointInput
from tests.factories import WorkspaceFactory

SECRET = "sk-live-0123456789abcdefSECRET"  # noqa: S105 - a sample
OLD = secrets.generate_key()
NEW = secrets.generate_key()


def test_a_secret_round_trips_and_is_not_stored_in_the_clear():
    token = secrets.encrypt(SECRET, keys=[OLD])
    assert SECRET not in token
    assert secrets.decrypt(token, keys=[OLD]).reveal() == SECRET


def test_no_secret_stays_empty():
    assert secrets.encrypt("", keys=[OLD]) == ""
    assert secrets.decrypt("", keys=[OLD]).reveal() == ""


def test_the_first_key_encrypts_and_every_key_decrypts():
    under_old = secrets.encrypt(SECRET, keys=[OLD])
    assert secrets.decrypt(under_old, keys=[NEW, OLD]).reveal() == SECRET
    rotated = secrets.rotate(under_old, keys=[NEW, OLD])
    assert secrets.decrypt(rotated, keys=[NEW]).reveal() == SECRET
    with pytest.raises(secrets.SecretUnreadable):
        secrets.decrypt(under_old, keys=[NEW])


def test_a_token_under_a_dropped_key_is_unreadable_and_the_error_names_nothing_secret():
    token = secrets.encrypt(SECRET, keys=[OLD])
    with pytest.raises(secrets.SecretUnreadable) as caught:
        secrets.decrypt(token, keys=[NEW])
    assert SECRET not in str(caught.value)
    assert token not in str(caught.value)


def test_no_keys_and_bad_keys_are_configuration_errors_that_say_what_to_do():
    with pytest.raises(secrets.SecretsNotConfigured, match="CLAUSEBOOK_SECRET_KEYS"):
        secrets.encrypt(SECRET, keys=[])
    with pytest.raises(secrets.SecretsNotConfigured, match="key 2 is not a Fernet key"):
        secrets.encrypt(SECRET, keys=[OLD, "not-a-key"])


def test_a_decrypted_secret_prints_as_a_mask(caplog):
    secret = secrets.decrypt(secrets.encrypt(SECRET, keys=[OLD]), keys=[OLD])
    logger = logging.getLogger("clausebook.tests")
    with caplog.at_level(logging.INFO, logger="clausebook.tests"):
        logger.info("calling with %s and %r", secret, secret)
        logger.info(f"calling with {secret}")
    percent = "%s" % secret  # noqa: UP031 - the old-style formatting loggers use
    shown = " ".join([str(secret), repr(secret), f"{secret}", percent, repr([secret])])
    assert SECRET not in shown
    assert SECRET not in caplog.text
    assert "********" in caplog.text


def test_an_endpoint_input_never_shows_its_secret():
    data = EndpointInput(
        name="n", base_url="https://1.1.1.1/v1", model="m", parameters={}, secret=SECRET
    )
    assert SECRET not in repr(data)
    assert SECRET not in str(data)


def test_a_local_install_makes_one_private_key_file_and_reuses_it(tmp_path):
    first = secrets.local_secret_keys(tmp_path)
    again = secrets.local_secret_keys(tmp_path)
    assert first == again and len(first) == 1
    assert stat.S_IMODE((tmp_path / secrets.FILENAME).stat().st_mode) == 0o600
    token = secrets.encrypt(SECRET, keys=first)
    assert secrets.decrypt(token, keys=again).reveal() == SECRET


def test_the_settings_keys_are_used_when_no_keys_are_given():
    with override_settings(SECRET_KEYS=[OLD]):
        token = secrets.encrypt(SECRET)
        assert secrets.decrypt(token).reveal() == SECRET


@pytest.mark.django_db
def test_rotate_secrets_re_encrypts_every_stored_secret_with_the_first_key():
    workspace = WorkspaceFactory()
    endpoint = ModelEndpoint.objects.create(
        workspace=workspace,
        name="e",
        base_url="https://1.1.1.1/v1",
        model="m",
        secret_encrypted=secrets.encrypt(SECRET, keys=[OLD]),
    )
    ModelEndpoint.objects.create(
        workspace=workspace, name="none", base_url="https://1.1.1.1/v1", model="m"
    )
    out = StringIO()
    with override_settings(SECRET_KEYS=[NEW, OLD]):
        call_command("rotate_secrets", stdout=out)
    assert "Re-encrypted 1 secret" in out.getvalue()
    endpoint.refresh_from_db()
    assert secrets.decrypt(endpoint.secret_encrypted, keys=[NEW]).reveal() == SECRET


@pytest.mark.django_db
def test_rotate_secrets_stops_without_changes_when_a_secret_is_unreadable():
    workspace = WorkspaceFactory()
    token = secrets.encrypt(SECRET, keys=[OLD])
    endpoint = ModelEndpoint.objects.create(
        workspace=workspace,
        name="e",
        base_url="https://1.1.1.1/v1",
        model="m",
        secret_encrypted=token,
    )
    with (
        override_settings(SECRET_KEYS=[NEW]),
        pytest.raises(CommandError, match="nothing was changed"),
    ):
        call_command("rotate_secrets", stdout=StringIO())
    endpoint.refresh_from_db()
    assert endpoint.secret_encrypted == token
