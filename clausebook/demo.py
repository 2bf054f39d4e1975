"""Demo data: a workspace with a user for every role, and another workspace's outsider.

Idempotent: running it again changes nothing that already exists.
"""

from __future__ import annotations

from dataclasses import dataclass

from allauth.account.models import EmailAddress
from django.db import transaction

from clausebook.models import Membership, Role, User, Workspace

DEMO_PASSWORD = "clausebook-demo"  # noqa: S105 - printed on purpose for the local demo
DEMO_USERS = [
    ("admin@example.com", "Ada Admin", Role.ADMIN),
    ("editor@example.com", "Eli Editor", Role.EDITOR),
    ("adjudicator@example.com", "Ari Adjudicator", Role.ADJUDICATOR),
    ("reviewer@example.com", "Rae Reviewer", Role.REVIEWER),
    ("reviewer2@example.com", "Sam Reviewer", Role.REVIEWER),
    # XSTest's two human annotators: their labels are seeded into a campaign (reviews.demo).
    ("annotator1@example.com", "XSTest annotator 1", Role.REVIEWER),
    ("annotator2@example.com", "XSTest annotator 2", Role.REVIEWER),
    ("viewer@example.com", "Vic Viewer", Role.VIEWER),
]


@dataclass
class DemoPlatform:
    workspace: Workspace
    other_workspace: Workspace
    users: dict[str, User]


def ensure_user(email: str, name: str, password: str = DEMO_PASSWORD) -> User:
    user = User.objects.filter(email=email).first()
    if user is None:
        user = User.objects.create_user(email=email, password=password, display_name=name)
    EmailAddress.objects.get_or_create(
        user=user, email=email, defaults={"verified": True, "primary": True}
    )
    return user


@transaction.atomic
def seed_platform() -> DemoPlatform:
    workspace, _ = Workspace.objects.get_or_create(
        slug="model-spec-review",
        defaults={
            "name": "Model Spec Review",
            "description": "Reviewing model behaviour against the OpenAI Model Spec.",
        },
    )
    other, _ = Workspace.objects.get_or_create(slug="other-team", defaults={"name": "Other Team"})
    users: dict[str, User] = {}
    for email, name, role in DEMO_USERS:
        user = ensure_user(email, name)
        Membership.objects.get_or_create(workspace=workspace, user=user, defaults={"role": role})
        users[email.split("@")[0]] = user
    outsider = ensure_user("outsider@example.com", "Olu Outsider")
    Membership.objects.get_or_create(workspace=other, user=outsider, defaults={"role": Role.ADMIN})
    Membership.objects.get_or_create(
        workspace=other, user=users["admin"], defaults={"role": Role.ADMIN}
    )
    users["outsider"] = outsider
    return DemoPlatform(workspace=workspace, other_workspace=other, users=users)
