"""People leave, evidence stays: removing a member or deactivating a user keeps their review work,
and deleting a user who has any is refused with a message, never a server error."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from clausebook import services, signals
from clausebook.models import ApiToken, AuditEvent, Membership, Role, User
from reviews.models import Assignment, Campaign, CampaignReviewer, Item, Label
from tests.factories import TEST_PASSWORD, UserFactory
from tests.reviews.factories import make_campaign

pytestmark = pytest.mark.django_db


@pytest.fixture
def work(personas):  # type: ignore[no-untyped-def]
    """The reviewer holds a seat, an assignment and a submitted label in a campaign."""
    campaign = make_campaign(
        personas.workspace,
        created_by=personas.adjudicator,
        reviewers=[personas.reviewer, personas.second_reviewer],
        transcripts=1,
        clause_count=1,
    )
    item = campaign.items.get()
    clause = campaign.campaign_clauses.get().clause
    assignment = Assignment.objects.create(
        campaign=campaign, item=item, reviewer=personas.reviewer, status="submitted"
    )
    label = Label.objects.create(
        campaign=campaign,
        item=item,
        clause=clause,
        reviewer=personas.reviewer,
        assignment=assignment,
        verdict="complies",
        status=Label.Status.SUBMITTED,
    )
    return {"campaign": campaign, "assignment": assignment, "label": label}


def _evidence_of(user: User) -> tuple[int, int, int]:
    return (
        Label.objects.filter(reviewer=user).count(),
        Assignment.objects.filter(reviewer=user).count(),
        CampaignReviewer.objects.filter(user=user).count(),
    )


def test_removing_a_member_on_the_members_page_keeps_their_work(personas, work) -> None:
    membership = Membership.objects.get(workspace=personas.workspace, user=personas.reviewer)
    response = personas.client_for(personas.owner).post(
        reverse("workspace-member-remove", args=["policy-team", membership.pk]),
        {"confirm": "on"},
        follow=True,
    )
    assert response.status_code == 200
    assert "reviewer@policy.test was removed from the workspace." in response.content.decode()
    assert not Membership.objects.filter(pk=membership.pk).exists()
    assert _evidence_of(personas.reviewer) == (1, 1, 1)
    work["label"].refresh_from_db()
    assert work["label"].verdict == "complies"


def test_removing_a_member_through_the_api_keeps_their_work(personas, work) -> None:
    membership = Membership.objects.get(workspace=personas.workspace, user=personas.reviewer)
    url = reverse("api-member-detail", args=["policy-team", membership.pk])
    response = personas.client_for(personas.owner).delete(url)
    assert response.status_code == 204
    assert not Membership.objects.filter(pk=membership.pk).exists()
    assert _evidence_of(personas.reviewer) == (1, 1, 1)
    assert AuditEvent.objects.filter(verb="membership.remove", actor=personas.owner).exists()


def test_only_an_admin_removes_members_through_the_api(personas) -> None:
    membership = Membership.objects.get(workspace=personas.workspace, user=personas.viewer)
    url = reverse("api-member-detail", args=["policy-team", membership.pk])
    assert personas.client_for(personas.editor).delete(url).status_code == 403
    assert Membership.objects.filter(pk=membership.pk).exists()


def test_a_deactivated_user_loses_access_and_keeps_their_work(personas, work) -> None:
    _token, secret = services.api_token_create(user=personas.reviewer, name="laptop")
    services.user_deactivate(user=personas.reviewer, actor=personas.owner)

    personas.reviewer.refresh_from_db()
    assert personas.reviewer.is_active is False
    assert _evidence_of(personas.reviewer) == (1, 1, 1)
    assert not ApiToken.objects.active().filter(user=personas.reviewer).exists()
    api = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert api.get(reverse("api-me")).status_code == 401
    signed_in = Client()
    signed_in.post(
        reverse("account_login"), {"login": "reviewer@policy.test", "password": TEST_PASSWORD}
    )
    assert "_auth_user_id" not in signed_in.session
    assert AuditEvent.objects.filter(verb="user.deactivate", actor=personas.owner).exists()


def test_deleting_a_user_with_evidence_is_refused_with_a_reason(personas, work) -> None:
    with pytest.raises(ValidationError) as refused:
        services.user_delete(user=personas.reviewer, actor=personas.owner)
    assert refused.value.messages == [
        "reviewer@policy.test cannot be deleted: their assignments, campaign reviewers, labels "
        "are kept as evidence. Deactivate the account instead."
    ]
    assert User.objects.filter(pk=personas.reviewer.pk).exists()
    assert _evidence_of(personas.reviewer) == (1, 1, 1)


def test_a_user_without_evidence_can_be_deleted(personas) -> None:
    services.user_delete(user=personas.viewer, actor=personas.owner)
    assert not User.objects.filter(pk=personas.viewer.pk).exists()
    assert AuditEvent.objects.filter(verb="user.delete", summary="viewer@policy.test").exists()


def _superuser_client() -> Client:
    admin = UserFactory(email="root@policy.test", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin)
    return client


def test_the_admin_refuses_to_delete_a_user_with_evidence(personas, work) -> None:
    client = _superuser_client()
    url = reverse("admin:clausebook_user_delete", args=[personas.reviewer.pk])
    response = client.post(url, {"post": "yes"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "would require deleting the following protected related objects" in page
    assert User.objects.filter(pk=personas.reviewer.pk).exists()
    assert _evidence_of(personas.reviewer) == (1, 1, 1)


def test_the_admin_deactivates_users_through_the_service(personas, work) -> None:
    client = _superuser_client()
    response = client.post(
        reverse("admin:clausebook_user_changelist"),
        {"action": "deactivate_users", "_selected_action": [personas.reviewer.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert "1 user(s) deactivated." in response.content.decode()
    personas.reviewer.refresh_from_db()
    assert personas.reviewer.is_active is False
    assert _evidence_of(personas.reviewer) == (1, 1, 1)
    assert AuditEvent.objects.filter(
        verb="user.deactivate", target_id=str(personas.reviewer.pk)
    ).exists()


def test_unticking_active_in_the_admin_deactivates_through_the_service(personas, work) -> None:
    services.api_token_create(user=personas.reviewer, name="laptop")
    client = _superuser_client()
    url = reverse("admin:clausebook_user_change", args=[personas.reviewer.pk])
    joined = personas.reviewer.date_joined
    response = client.post(
        url,
        {
            "email": personas.reviewer.email,
            "display_name": personas.reviewer.display_name,
            "date_joined_0": f"{joined:%Y-%m-%d}",
            "date_joined_1": f"{joined:%H:%M:%S}",
        },
    )
    assert response.status_code == 302
    personas.reviewer.refresh_from_db()
    assert personas.reviewer.is_active is False
    assert not ApiToken.objects.active().filter(user=personas.reviewer).exists()
    assert _evidence_of(personas.reviewer) == (1, 1, 1)
    assert AuditEvent.objects.filter(
        verb="user.deactivate", target_id=str(personas.reviewer.pk)
    ).exists()


def test_higher_apps_hear_of_a_removal_and_a_deactivation(personas) -> None:
    """The platform names no app above it; apps that keep per-person work connect receivers."""
    heard: list[tuple[str, str, str]] = []

    def removed(sender, workspace, user, actor, **kwargs):  # type: ignore[no-untyped-def]
        heard.append(("removed", workspace.slug, user.email))

    def deactivated(sender, user, actor, **kwargs):  # type: ignore[no-untyped-def]
        heard.append(("deactivated", "", user.email))

    signals.member_removed.connect(removed)
    signals.user_deactivated.connect(deactivated)
    try:
        membership = Membership.objects.get(workspace=personas.workspace, user=personas.viewer)
        services.membership_remove(membership=membership, actor=personas.owner)
        services.user_deactivate(user=personas.viewer, actor=personas.owner)
        services.user_deactivate(user=personas.viewer, actor=personas.owner)  # a no-op
    finally:
        signals.member_removed.disconnect(removed)
        signals.user_deactivated.disconnect(deactivated)
    assert heard == [
        ("removed", "policy-team", "viewer@policy.test"),
        ("deactivated", "", "viewer@policy.test"),
    ]


# --- Seats: a removed member or a deactivated user gives up unfinished work -------------------
@pytest.fixture
def seated(personas):  # type: ignore[no-untyped-def]
    """The reviewer submitted one item and is half way through another (an active claim)."""
    campaign = make_campaign(
        personas.workspace,
        created_by=personas.adjudicator,
        reviewers=[personas.reviewer, personas.second_reviewer],
        transcripts=2,
        clause_count=1,
        k=2,
    )
    first, second = campaign.items.order_by("position")
    clause = campaign.campaign_clauses.get().clause
    done = Assignment.objects.create(
        campaign=campaign, item=first, reviewer=personas.reviewer, status="submitted"
    )
    Label.objects.create(
        campaign=campaign,
        item=first,
        clause=clause,
        reviewer=personas.reviewer,
        assignment=done,
        verdict="violates",
        status=Label.Status.SUBMITTED,
    )
    Item.objects.filter(pk=first.pk).update(open_slots=1)
    active = Assignment.objects.create(
        campaign=campaign, item=second, reviewer=personas.reviewer, status="active"
    )
    Item.objects.filter(pk=second.pk).update(open_slots=1)
    return {"campaign": campaign, "active": active, "second": second}


def _seat(campaign, user):  # type: ignore[no-untyped-def]
    return CampaignReviewer.objects.get(campaign=campaign, user=user)


def test_removing_a_member_frees_their_seat_and_their_unfinished_item(personas, seated) -> None:
    """On 0a5a311 the seat and the claimed item stayed held by someone no longer a member."""
    campaign = seated["campaign"]
    membership = Membership.objects.get(workspace=personas.workspace, user=personas.reviewer)
    personas.client_for(personas.owner).post(
        reverse("workspace-member-remove", args=["policy-team", membership.pk]), {"confirm": "on"}
    )
    assert _seat(campaign, personas.reviewer).removed_at is not None
    assert _seat(campaign, personas.second_reviewer).removed_at is None
    seated["active"].refresh_from_db()
    assert seated["active"].status == Assignment.Status.RELEASED
    seated["second"].refresh_from_db()
    assert seated["second"].open_slots == 2, "the item goes back to the queue"
    kept = Label.objects.get(reviewer=personas.reviewer)
    assert (kept.verdict, kept.status) == ("violates", Label.Status.SUBMITTED)
    assert AuditEvent.objects.filter(
        verb="campaign.reviewer_remove", actor=personas.owner, target_id=str(campaign.pk)
    ).exists()
    assert personas.client_for(personas.second_reviewer).post(
        reverse("api-claim-next", args=["policy-team", campaign.pk])
    ).json()["item"] in {item.pk for item in campaign.items.all()}


def test_deactivating_a_user_frees_their_seats_in_every_workspace(personas, seated) -> None:
    services.user_deactivate(user=personas.reviewer, actor=None)
    assert _seat(seated["campaign"], personas.reviewer).removed_at is not None
    seated["active"].refresh_from_db()
    assert seated["active"].status == Assignment.Status.RELEASED
    assert Label.objects.filter(reviewer=personas.reviewer).count() == 1


def test_a_closed_campaign_keeps_its_seats_as_history(personas, seated) -> None:
    Campaign.objects.filter(pk=seated["campaign"].pk).update(status=Campaign.Status.CLOSED)
    membership = Membership.objects.get(workspace=personas.workspace, user=personas.reviewer)
    services.membership_remove(membership=membership, actor=personas.owner)
    assert _seat(seated["campaign"], personas.reviewer).removed_at is None
    assert not Membership.objects.filter(pk=membership.pk).exists()


def test_removal_in_another_workspace_leaves_these_seats_alone(personas, seated) -> None:
    Membership.objects.create(
        workspace=personas.other_workspace, user=personas.reviewer, role=Role.REVIEWER
    )
    elsewhere = Membership.objects.get(workspace=personas.other_workspace, user=personas.reviewer)
    services.membership_remove(membership=elsewhere, actor=personas.outsider)
    assert _seat(seated["campaign"], personas.reviewer).removed_at is None
    seated["active"].refresh_from_db()
    assert seated["active"].status == Assignment.Status.ACTIVE
