"""Workspace pages and API resolve the workspace through one access helper: 404 for outsiders,
403 for a role that is too low."""

import pytest
from django.urls import reverse

from clausebook.models import Role

pytestmark = pytest.mark.django_db


def test_a_member_of_any_role_sees_the_dashboard(personas, django_assert_max_num_queries):
    client = personas.client_for(personas.viewer)
    with django_assert_max_num_queries(12):
        response = client.get(reverse("workspace-dashboard", args=["policy-team"]))
    assert response.status_code == 200
    assert b"Policy Team" in response.content


def test_an_outsider_gets_404_for_the_dashboard_as_if_it_did_not_exist(personas):
    client = personas.client_for(personas.outsider)
    assert client.get(reverse("workspace-dashboard", args=["policy-team"])).status_code == 404
    assert client.get(reverse("workspace-dashboard", args=["no-such-ws"])).status_code == 404


def test_an_anonymous_visitor_is_sent_to_sign_in(personas, client):
    response = client.get(reverse("workspace-dashboard", args=["policy-team"]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


@pytest.mark.parametrize("persona", ["editor", "adjudicator", "reviewer", "viewer"])
def test_only_an_admin_may_open_the_members_page(personas, persona):
    client = personas.client_for(getattr(personas, persona))
    assert client.get(reverse("workspace-members", args=["policy-team"])).status_code == 403


def test_an_outsider_gets_404_for_the_members_page(personas):
    client = personas.client_for(personas.outsider)
    assert client.get(reverse("workspace-members", args=["policy-team"])).status_code == 404


def test_the_members_page_lists_everyone_in_a_fixed_number_of_queries(
    personas, django_assert_num_queries
):
    client = personas.client_for(personas.owner)
    url = reverse("workspace-members", args=["policy-team"])
    client.get(url)  # warm the session and site configuration
    # session, user, membership, nav workspaces, members, invitations
    with django_assert_num_queries(6):
        response = client.get(url)
    assert response.status_code == 200
    for email in ["owner@policy.test", "viewer@policy.test", "second-reviewer@policy.test"]:
        assert email.encode() in response.content
    assert b"outsider@other.test" not in response.content


def test_the_dashboard_shows_the_role_and_recent_activity(personas):
    from clausebook import services

    services.workspace_create(name="Scratch", creator=personas.owner)
    client = personas.client_for(personas.owner)
    response = client.get(reverse("workspace-dashboard", args=["scratch"]))
    assert response.status_code == 200
    assert b"admin" in response.content
    assert b"workspace.create" in response.content


def test_home_sends_a_member_to_a_workspace_and_a_newcomer_to_create_one(personas):
    from tests.factories import UserFactory

    member = personas.client_for(personas.reviewer)
    assert member.get(reverse("home"))["Location"] == reverse(
        "workspace-dashboard", args=["policy-team"]
    )
    newcomer = personas.client_for(UserFactory())
    assert newcomer.get(reverse("home"))["Location"] == reverse("workspace-create")


def test_creating_a_workspace_makes_the_creator_its_admin(personas):
    client = personas.client_for(personas.viewer)
    response = client.post(
        reverse("workspace-create"), {"name": "Red team", "description": "Probing"}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("workspace-dashboard", args=["red-team"])
    membership = personas.viewer.memberships.get(workspace__slug="red-team")
    assert membership.role == Role.ADMIN


def test_a_second_workspace_with_the_same_name_gets_its_own_slug(personas):
    client = personas.client_for(personas.viewer)
    client.post(reverse("workspace-create"), {"name": "Policy Team"})
    assert personas.viewer.memberships.filter(workspace__slug="policy-team-2").exists()
