"""The options every workspace command shares: --workspace and --as, with errors naming the option."""

from __future__ import annotations

import argparse

import pytest
from django.core.management.base import CommandError

from clausebook import cli
from clausebook.models import Role


def parse(*argv: str) -> dict:
    parser = argparse.ArgumentParser()
    cli.add_workspace_arguments(parser)
    return vars(parser.parse_args(argv))


def test_it_resolves_the_workspace_and_the_acting_member(personas) -> None:
    context = cli.resolve(
        parse("--workspace", "policy-team", "--as", "EDITOR@policy.test"), role=Role.EDITOR
    )
    assert context.workspace == personas.workspace
    assert context.actor == personas.editor


def test_without_as_the_system_acts(personas) -> None:
    context = cli.resolve(parse("--workspace", "policy-team"), role=Role.ADMIN)
    assert context.actor is None


def test_an_unknown_workspace_names_the_option(personas) -> None:
    with pytest.raises(CommandError, match=r"^--workspace: no workspace with slug 'nope'$"):
        cli.resolve(parse("--workspace", "nope"))


def test_an_unknown_user_names_the_option(personas) -> None:
    with pytest.raises(CommandError, match=r"^--as: no user with email 'ghost@policy.test'$"):
        cli.resolve(parse("--workspace", "policy-team", "--as", "ghost@policy.test"))


def test_a_user_of_another_workspace_cannot_act_here(personas) -> None:
    with pytest.raises(CommandError, match=r"^--as: outsider@other.test is not a member"):
        cli.resolve(parse("--workspace", "policy-team", "--as", "outsider@other.test"))


def test_a_member_below_the_needed_role_is_refused(personas) -> None:
    with pytest.raises(CommandError, match=r"^--as: reviewer@policy.test is Reviewer"):
        cli.resolve(
            parse("--workspace", "policy-team", "--as", "reviewer@policy.test"), role=Role.EDITOR
        )


def test_a_deactivated_user_cannot_act(personas) -> None:
    personas.editor.is_active = False
    personas.editor.save(update_fields=["is_active"])
    with pytest.raises(CommandError, match=r"^--as: editor@policy.test is deactivated$"):
        cli.resolve(parse("--workspace", "policy-team", "--as", "editor@policy.test"))


def test_the_workspace_option_is_required() -> None:
    with pytest.raises(SystemExit):
        parse("--as", "editor@policy.test")
