"""The demo opens its campaigns once, on the latest published version, with enough reviewers,
and one with XSTest's two annotators' real labels, disagreements and all."""

from __future__ import annotations

import csv
import io
from types import SimpleNamespace

import pytest
from django.db.models import Count
from django.urls import reverse

from clausebook.models import AuditEvent, Membership, Role
from reviews import demo as demo_campaigns
from reviews.models import (
    Campaign,
    CampaignReviewer,
    Comment,
    DecisionKind,
    GoldDecision,
    Item,
    Label,
    Notification,
    Outcome,
    OutcomeState,
)
from reviews.selectors.agreement import campaign_agreement
from tests.factories import UserFactory
from tests.reviews.factories import make_published_version, make_transcript
from transcripts.models import Transcript
from transcripts.services import (
    transcript_import_claim,
    transcript_import_create,
    transcript_import_run,
)


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


def _import_xstest_completions(personas) -> None:  # type: ignore[no-untyped-def]
    """Both annotated XSTest files, whole, under the prefixes ``transcripts.demo`` uses."""
    for name, prefix in demo_campaigns.ANNOTATED_SETS:
        path = demo_campaigns.XSTEST_COMPLETIONS / name
        run, _ = transcript_import_create(
            workspace=personas.workspace,
            actor=personas.editor,
            upload=io.BytesIO(path.read_bytes()),
            filename=name,
            id_prefix=prefix,
            enqueue=False,
        )
        transcript_import_run(import_run=transcript_import_claim(import_id=run.pk))


def _disagreements_in_the_data(workspace) -> int:  # type: ignore[no-untyped-def]
    """Completions (imported here) that XSTest's two annotators labeled differently."""
    known = set(
        Transcript.objects.filter(workspace=workspace).values_list("external_id", flat=True)
    )
    count = 0
    for name, prefix in demo_campaigns.ANNOTATED_SETS:
        path = demo_campaigns.XSTEST_COMPLETIONS / name
        with path.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                if f"{prefix}{row['id']}" in known:
                    count += row["annotation_1"] != row["annotation_2"]
    return count


@pytest.fixture
def annotated_demo(personas):  # type: ignore[no-untyped-def]
    make_published_version(
        personas.workspace, keys=["overview", "assume_best_intentions", "be_helpful"]
    )
    _import_xstest_completions(personas)
    annotators = []
    for n in (1, 2):
        user = UserFactory(email=f"annotator{n}@policy.test", display_name=f"XSTest annotator {n}")
        Membership.objects.create(workspace=personas.workspace, user=user, role=Role.REVIEWER)
        annotators.append(user)
    platform = SimpleNamespace(
        workspace=personas.workspace,
        users={
            "reviewer": personas.reviewer,
            "reviewer2": personas.second_reviewer,
            "adjudicator": personas.adjudicator,
            "editor": personas.editor,
            "annotator1": annotators[0],
            "annotator2": annotators[1],
        },
    )
    demo_campaigns.seed(platform, io.StringIO())
    campaign = Campaign.objects.get(title=demo_campaigns.ANNOTATED_TITLE)
    return SimpleNamespace(platform=platform, campaign=campaign, annotators=annotators)


def _counts() -> dict[str, int]:
    models = (Campaign, Item, Label, GoldDecision, Comment, Notification, AuditEvent)
    return {model.__name__: model.objects.count() for model in models}


@pytest.mark.django_db
def test_the_demo_seeds_xstests_two_annotators_with_agreed_gold_and_disputed_pairs(
    personas, annotated_demo
) -> None:
    campaign = annotated_demo.campaign
    assert (campaign.reviewers_per_item, campaign.blind, campaign.status) == (
        2,
        False,
        Campaign.Status.OPEN,
    )
    seated = CampaignReviewer.objects.seated().filter(campaign=campaign)
    assert set(seated.values_list("user_id", flat=True)) == {
        u.pk for u in annotated_demo.annotators
    }
    items = Item.objects.filter(campaign=campaign).count()
    assert Label.objects.counted().filter(campaign=campaign).count() == 2 * items

    states = dict(
        Outcome.objects.filter(campaign=campaign)
        .values("state")
        .annotate(n=Count("id"))
        .values_list("state", "n")
    )
    disagreements = _disagreements_in_the_data(personas.workspace)
    assert disagreements > 10
    settled = demo_campaigns.SETTLED_PAIRS
    assert states[OutcomeState.DISPUTED] == disagreements - settled
    assert states[OutcomeState.ADJUDICATED] == settled
    assert states[OutcomeState.AGREED] == items - disagreements

    gold = GoldDecision.objects.current().filter(campaign=campaign)
    assert gold.filter(kind=DecisionKind.AGREED).count() == items - disagreements
    adjudicated = gold.filter(kind=DecisionKind.ADJUDICATED)
    assert adjudicated.count() == settled
    assert all("final label" in d.rationale for d in adjudicated)
    assert {d.decided_by_id for d in adjudicated} == {personas.adjudicator.pk}

    [comment] = Comment.objects.filter(item__campaign=campaign)
    assert comment.author == annotated_demo.annotators[0]
    outcome = Outcome.objects.get(item=comment.item, clause=comment.clause)
    assert outcome.state == OutcomeState.DISPUTED
    notified = set(
        Notification.objects.filter(comment=comment).values_list("recipient_id", flat=True)
    )
    assert notified == {annotated_demo.annotators[1].pk, personas.adjudicator.pk}


@pytest.mark.django_db
def test_the_seeded_xstest_campaign_shows_its_alpha_and_its_disputes_in_both_queues(
    personas, annotated_demo
) -> None:
    campaign = annotated_demo.campaign
    kwargs = {"workspace": "policy-team", "campaign_id": campaign.pk}
    viewer = personas.client_for(personas.viewer)
    page = viewer.get(reverse("reviews:campaign-agreement", kwargs=kwargs)).content.decode()
    alpha = campaign_agreement(campaign)["clauses"][0]["final"]["alpha_nominal"]["value"]
    assert 0.8 < alpha < 1
    assert f"{alpha:.3f}" in page
    first = (
        Outcome.objects.filter(campaign=campaign, state=OutcomeState.DISPUTED)
        .order_by("item__position")
        .first()
    )
    adjudicator = personas.client_for(personas.adjudicator)
    disputes = adjudicator.get(reverse("reviews:dispute-list", kwargs=kwargs)).content.decode()
    assert f"/items/{first.item_id}/clauses/assume_best_intentions/thread/" in disputes
    queue = adjudicator.get(reverse("reviews:adjudication-queue", kwargs=kwargs)).content.decode()
    assert f"/items/{first.item_id}/adjudicate/" in queue


@pytest.mark.django_db
def test_seeding_the_annotated_campaign_again_creates_nothing(annotated_demo) -> None:
    before = _counts()
    out = io.StringIO()
    demo_campaigns.seed(annotated_demo.platform, out)
    assert _counts() == before
    assert out.getvalue() == ""
