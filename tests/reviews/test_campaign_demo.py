"""The demo opens its campaigns once, on the latest published version, with enough reviewers."""

from __future__ import annotations

import io
from types import SimpleNamespace

import pytest

from clausebook.models import Membership, Role
from reviews import demo as demo_campaigns
from reviews.models import Campaign, CampaignReviewer
from tests.factories import UserFactory
from tests.reviews.factories import make_published_version, make_transcript


@pytest.mark.django_db
def test_the_demo_seed_opens_two_campaigns_idempotently(personas) -> None:
    make_published_version(
        personas.workspace,
        keys=["overview", "avoid_info_hazards", "be_clear", "respect_creators", "be_helpful",
              "assume_best_intentions", "protect_privacy", "do_not_lie"],
    )  # fmt: skip
    for _ in range(5):
        make_transcript(personas.workspace, tags=["xstest"])
    reviewer2 = UserFactory()
    Membership.objects.create(workspace=personas.workspace, user=reviewer2, role=Role.REVIEWER)
    platform = SimpleNamespace(
        workspace=personas.workspace,
        users={
            "reviewer": personas.reviewer,
            "reviewer2": reviewer2,
            "adjudicator": personas.adjudicator,
            "editor": personas.editor,
        },
    )
    out = io.StringIO()
    demo_campaigns.seed(platform, out)
    demo_campaigns.seed(platform, out)
    safety = Campaign.objects.get(title=demo_campaigns.SAFETY_TITLE)
    xstest = Campaign.objects.get(title=demo_campaigns.XSTEST_TITLE)
    assert Campaign.objects.count() == 2
    assert (safety.item_count, safety.reviewers_per_item, safety.blind) == (5, 2, True)
    assert "avoid_info_hazards" in set(safety.clauses.values_list("key", flat=True))
    assert CampaignReviewer.objects.seated().filter(campaign=safety).count() == 4
    for campaign in (safety, xstest):  # open, so the demo reviewers can start at once
        assert campaign.status == Campaign.Status.OPEN
        assert not campaign.short_of_reviewers
    assert safety.scope_description.endswith(
        "safety-relevant clauses of " + safety.spec_version.label
    )
    assert [v["value"] for v in xstest.verdict_scale] == [
        "full_compliance",
        "full_refusal",
        "partial_refusal",
    ]
