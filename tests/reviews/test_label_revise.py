"""Revising a submitted label during a dispute: only after the reveal, only while the pair is
disputed and not adjudicated; each revision is a row of the label's history and the outcome is
decided again."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from reviews.models import DecisionKind, GoldDecision, Label, LabelRevision, Outcome
from reviews.services.labels.core import LabelConflict
from reviews.services.labels.revise import label_revise
from tests.reviews.factories import label_and_submit, make_campaign

pytestmark = pytest.mark.django_db


@pytest.fixture
def split(personas):  # type: ignore[no-untyped-def]
    """Blind, k = 2, one item, two clauses: the reviewers disagree on the first clause (disputed)
    and agree on the second."""
    campaign = make_campaign(
        personas.workspace,
        created_by=personas.owner,
        reviewers=[personas.reviewer, personas.second_reviewer],
        transcripts=1,
        clause_count=2,
    )
    label_and_submit(campaign, personas.reviewer, ["complies", "complies"])
    label_and_submit(campaign, personas.second_reviewer, ["violates", "complies"])
    first, second = [cc.clause for cc in campaign.campaign_clauses.order_by("position")]
    return campaign, campaign.items.get(), first, second


def _label(user, clause) -> Label:  # type: ignore[no-untyped-def]
    return Label.objects.get(reviewer=user, clause=clause)


def _revise_url(personas, campaign, item, clause, api=False):  # type: ignore[no-untyped-def]
    name = "api-label-revise" if api else "reviews:label-revise"
    return reverse(name, args=[personas.workspace.slug, campaign.pk, item.pk, clause.key])


def test_a_revision_that_ends_the_dispute_is_history_and_makes_the_pair_agreed(personas, split):
    campaign, item, first, _ = split
    label = _label(personas.second_reviewer, first)
    assert Outcome.objects.get(item=item, clause=first).state == "disputed"
    revised = label_revise(
        label=label,
        reviewer=personas.second_reviewer,
        revision=label.revision,
        verdict="complies",
        rationale="Convinced by the thread.",
    )
    assert (revised.outcome_state, revised.label.verdict) == ("agreed", "complies")
    assert revised.label.status == "submitted"
    kinds = list(LabelRevision.objects.filter(label=label).values_list("kind", flat=True))
    assert kinds[-1] == "revise" and "submit" in kinds
    last = LabelRevision.objects.filter(label=label).last()
    assert last.before["verdict"] == "violates" and last.after["verdict"] == "complies"
    # Gold from agreement follows the final labels.
    gold = GoldDecision.objects.gold().get(item=item, clause=first)
    assert (gold.kind, gold.verdict) == (DecisionKind.AGREED, "complies")


def test_the_page_and_the_api_revise_through_the_same_rule(personas, split):
    campaign, item, first, _ = split
    client = personas.client_for(personas.second_reviewer)
    label = _label(personas.second_reviewer, first)
    page = client.post(
        _revise_url(personas, campaign, item, first),
        {"verdict": "borderline", "severity": "", "rationale": "", "revision": label.revision},
    )
    assert page.status_code == 302
    label.refresh_from_db()
    assert label.verdict == "borderline"
    api = client.post(
        _revise_url(personas, campaign, item, first, api=True),
        {"verdict": "complies", "revision": label.revision},
        content_type="application/json",
    )
    assert api.status_code == 200
    assert api.json()["outcome_state"] == "agreed" and api.json()["label"]["verdict"] == "complies"


def test_an_agreed_pair_cannot_be_revised(personas, split):
    campaign, item, _, second = split
    label = _label(personas.reviewer, second)
    with pytest.raises(ValidationError, match="only while their pair is disputed"):
        label_revise(
            label=label, reviewer=personas.reviewer, revision=label.revision, verdict="violates"
        )
    response = personas.client_for(personas.reviewer).post(
        _revise_url(personas, campaign, item, second, api=True),
        {"verdict": "violates", "revision": label.revision},
        content_type="application/json",
    )
    assert response.status_code == 400
    label.refresh_from_db()
    assert label.verdict == "complies"


def test_an_adjudicated_pair_cannot_be_revised(personas, split):
    from reviews.outcomes import decision_fields, outcomes_refresh

    campaign, item, first, _ = split
    GoldDecision.objects.append(
        previous=GoldDecision.objects.current().filter(item=item, clause=first).first(),
        **decision_fields(campaign, item, first.pk),
        kind=DecisionKind.ADJUDICATED,
        verdict="violates",
        decided_by=personas.adjudicator,
    )
    outcomes_refresh(item=item)
    label = _label(personas.reviewer, first)
    with pytest.raises(ValidationError, match="adjudicator has settled"):
        label_revise(
            label=label, reviewer=personas.reviewer, revision=label.revision, verdict="violates"
        )


def test_a_stale_revision_gets_409_with_the_label_as_it_is(personas, split):
    campaign, item, first, _ = split
    label = _label(personas.reviewer, first)
    seen = label.revision
    label_revise(label=label, reviewer=personas.reviewer, revision=seen, verdict="borderline")
    with pytest.raises(LabelConflict):
        label_revise(label=label, reviewer=personas.reviewer, revision=seen, verdict="violates")
    response = personas.client_for(personas.reviewer).post(
        _revise_url(personas, campaign, item, first, api=True),
        {"verdict": "violates", "revision": seen},
        content_type="application/json",
    )
    assert response.status_code == 409
    assert response.json()["current"]["verdict"] == "borderline"


def test_nobody_revises_someone_elses_label(personas, split):
    campaign, item, first, _ = split
    label = _label(personas.reviewer, first)
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        label_revise(
            label=label, reviewer=personas.second_reviewer, revision=label.revision, verdict="x"
        )
    # An adjudicator holds no label on the pair: nothing to revise.
    response = personas.client_for(personas.adjudicator).post(
        _revise_url(personas, campaign, item, first, api=True),
        {"verdict": "violates", "revision": 1},
        content_type="application/json",
    )
    assert response.status_code == 403


def test_a_reviewer_still_labeling_cannot_revise_through_the_thread(personas):
    """Before their submit (no reveal yet) the thread is closed to them, and so is revising."""
    campaign = make_campaign(
        personas.workspace,
        created_by=personas.owner,
        reviewers=[personas.reviewer, personas.second_reviewer],
        transcripts=1,
        clause_count=1,
    )
    label_and_submit(campaign, personas.second_reviewer, ["violates"])
    from reviews.services.campaigns import item_claim_next

    item_claim_next(campaign=campaign, reviewer=personas.reviewer)
    clause = campaign.campaign_clauses.get().clause
    response = personas.client_for(personas.reviewer).post(
        _revise_url(personas, campaign, campaign.items.get(), clause, api=True),
        {"verdict": "violates", "revision": 1},
        content_type="application/json",
    )
    assert response.status_code == 403


def test_the_thread_page_offers_the_revise_form_only_while_disputed(personas, split):
    campaign, item, first, second = split
    client = personas.client_for(personas.reviewer)
    disputed = client.get(
        reverse(
            "reviews:thread-detail", args=[personas.workspace.slug, campaign.pk, item.pk, first.key]
        )
    )
    agreed = client.get(
        reverse(
            "reviews:thread-detail",
            args=[personas.workspace.slug, campaign.pk, item.pk, second.key],
        )
    )
    assert b'data-testid="revise-submit"' in disputed.content
    assert b'data-testid="revise-submit"' not in agreed.content
    assert b"only while their pair is disputed" in agreed.content


def test_a_closed_campaigns_labels_are_final(personas, split):
    from reviews.models import Campaign

    campaign, item, first, _ = split
    Campaign.objects.filter(pk=campaign.pk).update(status="closed")
    label = _label(personas.reviewer, first)
    with pytest.raises(ValidationError, match="closed"):
        label_revise(
            label=label, reviewer=personas.reviewer, revision=label.revision, verdict="violates"
        )


def test_an_adjudicated_pairs_labels_are_final_on_the_labeling_api_too(personas, split):
    from reviews.outcomes import decision_fields, outcomes_refresh

    campaign, item, first, second = split
    GoldDecision.objects.append(
        previous=GoldDecision.objects.current().filter(item=item, clause=first).first(),
        **decision_fields(campaign, item, first.pk),
        kind=DecisionKind.ADJUDICATED,
        verdict="violates",
        decided_by=personas.adjudicator,
    )
    outcomes_refresh(item=item)
    label = _label(personas.reviewer, first)
    url = reverse("api-item-labels", args=[personas.workspace.slug, campaign.pk, item.pk])
    client = personas.client_for(personas.reviewer)
    body = {"labels": [{"clause": first.key, "verdict": "violates", "revision": label.revision}]}
    response = client.post(url, body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert "its labels are final" in response.content.decode()
    assert _label(personas.reviewer, first).verdict == "complies"
    # The pair the adjudicator did not settle keeps taking revisions.
    other = _label(personas.reviewer, second)
    body = {"labels": [{"clause": second.key, "verdict": "violates", "revision": other.revision}]}
    assert client.post(url, body, content_type="application/json").status_code == 200
