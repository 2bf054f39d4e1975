"""Setting up a server from a script: create_workspace and add_member (issue 9).

On 0a5a311 neither command existed: creating a workspace or adding a member needed the shell.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest
from django.core.management import call_command, load_command_class
from django.core.management.base import CommandError

from clausebook.models import AuditEvent, Membership, Role, User, Workspace
from tests.conftest import ROOT, database_url_for_subprocess
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a long and unusual passphrase 42"


def run(*argv: str, stdin: str | None = None) -> dict:
    out = io.StringIO()
    kwargs = {"stdout": out}
    if stdin is not None:
        kwargs["stdin"] = io.StringIO(stdin)
    call_command(*argv, "--json", **kwargs)
    return json.loads(out.getvalue())


def test_create_workspace_makes_the_owner_its_admin(personas) -> None:
    summary = run(
        "create_workspace", "research", "--name", "Research", "--owner", "EDITOR@policy.test"
    )
    workspace = Workspace.objects.get(slug="research")
    assert summary == {
        "id": workspace.pk,
        "slug": "research",
        "name": "Research",
        "owner": {"id": personas.editor.pk, "email": "editor@policy.test", "created": False},
        "membership": Membership.objects.get(workspace=workspace).pk,
        "role": "admin",
    }
    assert Membership.objects.get(workspace=workspace, user=personas.editor).role == Role.ADMIN
    assert AuditEvent.objects.filter(verb="workspace.create", workspace=workspace).exists()


def test_create_workspace_refuses_a_taken_or_invalid_slug_and_an_unknown_owner(personas) -> None:
    with pytest.raises(CommandError, match=r"^slug: a workspace 'policy-team' already exists$"):
        run("create_workspace", "policy-team", "--name", "X", "--owner", "editor@policy.test")
    with pytest.raises(CommandError, match=r"^slug: 'no spaces' is not a slug"):
        run("create_workspace", "no spaces", "--name", "X", "--owner", "editor@policy.test")
    with pytest.raises(CommandError, match=r"^--owner: no account with email 'ghost@x.test' \("):
        run("create_workspace", "fresh", "--name", "X", "--owner", "ghost@x.test")
    assert not Workspace.objects.filter(slug="fresh").exists()


def test_create_workspace_creates_the_owner_with_a_password_from_stdin(db) -> None:
    summary = run(
        "create_workspace",
        "fresh",
        "--name",
        "Fresh",
        "--owner",
        "first@x.test",
        "--create-user",
        stdin=NEW_PASSWORD + "\n",
    )
    owner = User.objects.get(email="first@x.test")
    assert summary["owner"] == {"id": owner.pk, "email": "first@x.test", "created": True}
    assert owner.check_password(NEW_PASSWORD)
    assert owner.emailaddress_set.get().verified, "the account can sign in at once"


def test_add_member_adds_changes_and_repeats_without_harm(personas) -> None:
    newcomer = UserFactory(email="newcomer@x.test")
    argv = ("add_member", "--workspace", "policy-team", "newcomer@x.test")
    added = run(*argv, "--role", "reviewer", "--as", "owner@policy.test")
    membership = Membership.objects.get(workspace=personas.workspace, user=newcomer)
    assert added == {
        "workspace": "policy-team",
        "user": {"id": newcomer.pk, "email": "newcomer@x.test", "created": False},
        "membership": membership.pk,
        "role": "reviewer",
        "result": "added",
    }
    assert run(*argv, "--role", "reviewer")["result"] == "unchanged"
    assert run(*argv, "--role", "adjudicator")["result"] == "updated"
    membership.refresh_from_db()
    assert membership.role == Role.ADJUDICATOR
    assert AuditEvent.objects.filter(
        verb="membership.create", actor=personas.owner, target_id=str(membership.pk)
    ).exists()


def test_add_member_creates_an_account_only_when_asked(personas, tmp_path) -> None:
    argv = ("add_member", "--workspace", "policy-team", "brand.new@x.test", "--role", "viewer")
    with pytest.raises(CommandError, match=r"^email: no account with email 'brand.new@x.test'"):
        run(*argv)
    assert not User.objects.filter(email="brand.new@x.test").exists()
    secret = tmp_path / "password"
    secret.write_text(NEW_PASSWORD + "\n")
    summary = run(*argv, "--create-user", "--password-file", str(secret))
    user = User.objects.get(email="brand.new@x.test")
    assert summary["user"] == {"id": user.pk, "email": "brand.new@x.test", "created": True}
    assert user.check_password(NEW_PASSWORD)
    assert Membership.objects.get(workspace=personas.workspace, user=user).role == Role.VIEWER


def test_add_member_refuses_weak_passwords_bad_roles_and_the_last_admins_demotion(personas) -> None:
    with pytest.raises(CommandError, match=r"^--create-user: This password is too short"):
        run(
            "add_member",
            "--workspace",
            "policy-team",
            "weak@x.test",
            "--role",
            "viewer",
            "--create-user",
            stdin="short\n",
        )
    assert not User.objects.filter(email="weak@x.test").exists()
    with pytest.raises(CommandError, match=r"^--role: A workspace needs at least one admin\.$"):
        run("add_member", "--workspace", "policy-team", "owner@policy.test", "--role", "viewer")
    with pytest.raises(CommandError, match=r"--role: invalid choice: 'boss'"):
        run("add_member", "--workspace", "policy-team", "owner@policy.test", "--role", "boss")
    with pytest.raises(CommandError, match=r"^--as: editor@policy.test is Editor"):
        run(
            "add_member",
            "--workspace",
            "policy-team",
            "viewer@policy.test",
            "--role",
            "admin",
            "--as",
            "editor@policy.test",
        )
    assert Membership.objects.get(workspace=personas.workspace, user=personas.viewer).role == (
        Role.VIEWER
    )


def test_no_command_takes_a_password_on_the_command_line() -> None:
    for command in ("add_member", "create_workspace"):
        parser = load_command_class("clausebook", command).create_parser("manage.py", command)
        options = set(parser._option_string_actions)
        assert "--password-file" in options
        assert not {option for option in options if option.startswith("--pass")} - {
            "--password-file"
        }


@pytest.mark.django_db(transaction=True)
def test_a_setup_script_pipes_the_password_and_reads_json(personas) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": database_url_for_subprocess(),
        "DJANGO_SETTINGS_MODULE": "tests.settings",
    }
    created = subprocess.run(
        [sys.executable, "manage.py", "create_workspace", "ops", "--name", "Ops"]
        + ["--owner", "ops.admin@x.test", "--create-user", "--json"],
        input=NEW_PASSWORD + "\n",
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout.strip().splitlines()[-1])["slug"] == "ops"
    failed = subprocess.run(
        [sys.executable, "manage.py", "add_member", "--workspace", "nope", "x@x.test"]
        + ["--role", "viewer"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert failed.returncode == 1
    assert "--workspace: no workspace with slug 'nope'" in failed.stderr
    assert "Traceback" not in failed.stderr
