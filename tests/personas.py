"""The cast every test can use: one workspace with a member of each role, and an outsider."""

from __future__ import annotations

from dataclasses import dataclass

from django.test import Client, TestCase

from clausebook.models import Membership, Role, User, Workspace
from tests.factories import UserFactory, WorkspaceFactory


@dataclass
class Personas:
    workspace: Workspace
    other_workspace: Workspace
    owner: User
    editor: User
    adjudicator: User
    reviewer: User
    second_reviewer: User
    viewer: User
    outsider: User

    def client_for(self, user: User) -> Client:
        client = Client()
        client.force_login(user)
        return client


def make_personas() -> Personas:
    workspace = WorkspaceFactory(name="Policy Team", slug="policy-team")
    other = WorkspaceFactory(name="Other Org", slug="other-org")
    cast = {}
    for attr, role in [
        ("owner", Role.ADMIN),
        ("editor", Role.EDITOR),
        ("adjudicator", Role.ADJUDICATOR),
        ("reviewer", Role.REVIEWER),
        ("second_reviewer", Role.REVIEWER),
        ("viewer", Role.VIEWER),
    ]:
        user = UserFactory(email=f"{attr.replace('_', '-')}@policy.test")
        Membership.objects.create(workspace=workspace, user=user, role=role)
        cast[attr] = user
    outsider = UserFactory(email="outsider@other.test")
    Membership.objects.create(workspace=other, user=outsider, role=Role.ADMIN)
    return Personas(workspace=workspace, other_workspace=other, outsider=outsider, **cast)


class PersonaTestCase(TestCase):
    """Base class for Django-style tests: ``self.cast`` holds the personas."""

    cast: Personas

    @classmethod
    def setUpTestData(cls) -> None:
        cls.cast = make_personas()

    def as_user(self, user: User) -> Client:
        return self.cast.client_for(user)
