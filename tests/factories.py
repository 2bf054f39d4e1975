from __future__ import annotations

import re
from urllib.parse import urlsplit

import factory
from allauth.account.models import EmailAddress
from django.core import mail

from clausebook import services
from clausebook.models import Invitation, User, Workspace

TEST_PASSWORD = "correct horse battery staple"  # noqa: S105


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.test")
    display_name = factory.Faker("name")
    password = factory.PostGenerationMethodCall("set_password", TEST_PASSWORD)

    @factory.post_generation
    def verified_email(self, create: bool, extracted: object, **kwargs: object) -> None:
        if create:
            self.save()
            EmailAddress.objects.create(user=self, email=self.email, verified=True, primary=True)


class WorkspaceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Workspace
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Workspace {n}")
    slug = factory.Sequence(lambda n: f"workspace-{n}")


def send_invitation(
    workspace: Workspace,
    *,
    email: str,
    role: int,
    invited_by: User,
    link_base: str = "http://testserver",
) -> tuple[Invitation, str]:
    """Invite ``email`` and send the email in this process; returns the invitation and the path
    of the emailed link (the raw token exists only in that email, as in production)."""
    created = services.invitation_create(
        workspace=workspace, email=email, role=role, invited_by=invited_by, link_base=link_base
    )
    assert services.invitation_send(invitation_id=created.invitation.pk)
    [link] = re.findall(r"Accept: (\S+)", mail.outbox[-1].body)
    created.invitation.refresh_from_db()
    return created.invitation, urlsplit(link).path
