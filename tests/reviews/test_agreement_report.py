"""The campaign agreement report: what it counts (submitted human labels, adjudicated gold only,
judges apart), first submissions beside final labels, its cache, and the command, API and page
that show it."""

from __future__ import annotations

import io
import json

import krippendorff
import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone
from sklearn.metrics import cohen_kappa_score

from clausebook.models import Membership, Role
from reviews.models import CampaignClause, DecisionKind, GoldDecision, Item, Label, LabelRevision
from reviews.selectors.agreement import campaign_agreement
from reviews.services.gold import decision_record
from reviews.services.labels.imports import LabelRow, labels_import
from reviews.services.labels.judge import judge_label_record
from tests.factories import UserFactory
from tests.reviews.factories import make_campaign, make_judge_run, make_transcript

VERDICTS = ["complies", "violates", "borderline", "not_applicable"]

# Three reviewers on six transcripts and one clause; None: no label. Made to disagree.
TABLE = [
    ["complies", "complies", "violates"],
    ["violates", "violates", "violates"],
    ["complies", "borderline", None],
    ["not_applicable", "complies", "complies"],
    ["complies", "complies", "complies"],
    ["violates", None, None],  # one verdict: left out
]


@pytest.fixture
def setup(personas):  # type: ignore[no-untyped-def]
    third = UserFactory(email="third-reviewer@policy.test")
    Membership.objects.create(workspace=personas.workspace, user=third, role=Role.REVIEWER)
    transcripts = [
        make_transcript(personas.workspace, external_id=f"t{i}") for i in range(len(TABLE))
    ]
    campaign = make_campaign(
        personas.workspace,
        created_by=personas.adjudicator,
        transcripts=transcripts,
        clause_count=2,
        k=3,
    )
    reviewers = [personas.reviewer, personas.second_reviewer, third]
    clause_key = campaign.campaign_clauses.order_by("position").first().clause.key
    rows = [
        LabelRow(
            line=n,
            external_id=f"t{i}",
            clause_key=clause_key,
            reviewer_email=reviewers[r].email,
            verdict=verdict,
        )
        for n, (i, r, verdict) in enumerate(
            (i, r, v) for i, row in enumerate(TABLE) for r, v in enumerate(row) if v
        )
    ]
    labels_import(campaign=campaign, rows=rows, actor=personas.editor)
    return campaign, reviewers


def _matrix(table):  # type: ignore[no-untyped-def]
    return np.array(
        [[np.nan if v is None else VERDICTS.index(v) for v in row] for row in table], dtype=float
    )


@pytest.mark.django_db
def test_the_report_gives_each_clause_the_coefficients_of_its_labels(setup) -> None:
    campaign, _ = setup
    report = campaign_agreement(campaign)
    first_clause = report["clauses"][0]["final"]
    expected = krippendorff.alpha(
        reliability_data=_matrix(TABLE).T,
        level_of_measurement="nominal",
        value_domain=list(range(4)),
    )
    assert first_clause["alpha_nominal"]["value"] == pytest.approx(expected, abs=1e-9)
    assert first_clause["alpha_nominal"]["n_items"] == 5
    assert first_clause["alpha_nominal"]["n_labels"] == 14
    low, high = first_clause["alpha_nominal"]["ci_low"], first_clause["alpha_nominal"]["ci_high"]
    assert low <= first_clause["alpha_nominal"]["value"] <= high
    assert first_clause["gwet_ac1"]["ci_low"] is not None
    assert first_clause["fleiss_kappa"]["form"] == "varying"
    # The second clause has no labels: its figures are undefined and say they used nothing.
    assert report["clauses"][1]["final"]["alpha_nominal"] == {
        **report["clauses"][1]["final"]["alpha_nominal"],
        "value": None,
        "n_items": 0,
    }
    json.dumps(report)  # the command and the API print it as it is


@pytest.mark.django_db
def test_pairwise_kappa_is_cohens_over_the_items_both_reviewers_labeled(setup) -> None:
    campaign, reviewers = setup
    report = campaign_agreement(campaign)
    ids = report["pairwise"]["reviewer_ids"]
    a, b = ids.index(reviewers[0].pk), ids.index(reviewers[1].pk)
    matrix = _matrix(TABLE)
    both = ~np.isnan(matrix[:, 0]) & ~np.isnan(matrix[:, 1])
    expected = cohen_kappa_score(matrix[both, 0], matrix[both, 1])
    assert report["pairwise"]["final"][a][b]["value"] == pytest.approx(expected, abs=1e-9)
    assert report["pairwise"]["final"][a][b]["n_items"] == int(both.sum())
    assert report["pairwise"]["final"][a][a] is None


@pytest.mark.django_db
def test_reviewers_are_measured_against_adjudicated_gold_but_not_agreed_gold(
    personas, setup
) -> None:
    campaign, reviewers = setup
    clause = CampaignClause.objects.filter(campaign=campaign).order_by("position").first().clause
    # t4 was unanimous: with gold from agreement it is agreed gold, which must not count.
    assert GoldDecision.objects.filter(kind=DecisionKind.AGREED, is_current=True).exists()
    disputed = Item.objects.get(campaign=campaign, transcript__external_id="t0")
    current = GoldDecision.objects.filter(item=disputed, clause=clause, is_current=True).first()
    decision_record(
        item=disputed,
        clause=clause,
        actor=personas.owner,
        verdict="violates",
        rationale="The third reviewer saw the problem.",
        current_decision_id=current.pk if current else None,
    )
    report = campaign_agreement(campaign)
    by_id = {row["id"]: row for row in report["reviewers"]}
    assert by_id[reviewers[0].pk]["with_gold"]["n_pairs"] == 1
    assert by_id[reviewers[0].pk]["with_gold"]["percent_agreement"] == 0.0
    assert by_id[reviewers[2].pk]["with_gold"]["percent_agreement"] == 1.0
    assert report["counts"]["adjudicated"] == 1


@pytest.mark.django_db
def test_a_revised_label_shows_in_final_labels_and_not_in_first_submissions(setup) -> None:
    campaign, reviewers = setup
    label = Label.objects.get(
        item__transcript__external_id="t0", reviewer=reviewers[2], clause__key__isnull=False
    )
    before = label.snapshot()
    Label.objects.filter(pk=label.pk).update(
        verdict="complies", revision=label.revision + 1, updated_at=timezone.now()
    )
    LabelRevision.objects.create(
        label=label,
        revision=label.revision + 1,
        kind=LabelRevision.Kind.REVISE,
        changed_by=reviewers[2],
        before=before,
        after={**before, "verdict": "complies"},
    )
    report = campaign_agreement(campaign)
    final, first = report["clauses"][0]["final"], report["clauses"][0]["first"]
    revised = [row[:] for row in TABLE]
    revised[0][2] = "complies"
    for table, shown in ((revised, final), (TABLE, first)):
        expected = krippendorff.alpha(
            reliability_data=_matrix(table).T,
            level_of_measurement="nominal",
            value_domain=list(range(4)),
        )
        assert shown["alpha_nominal"]["value"] == pytest.approx(expected, abs=1e-9)
    assert final["percent_agreement"]["value"] > first["percent_agreement"]["value"]
    assert report["counts"]["revised_labels"] == 1


@pytest.mark.django_db
def test_the_cached_report_is_recomputed_after_a_label_changes(setup) -> None:
    campaign, reviewers = setup
    before = campaign_agreement(campaign)
    assert campaign_agreement(campaign)["computed_at"] == before["computed_at"]
    label = Label.objects.get(item__transcript__external_id="t3", reviewer=reviewers[0])
    Label.objects.filter(pk=label.pk).update(verdict="complies", updated_at=timezone.now())
    after = campaign_agreement(campaign)
    assert after["stamp"] != before["stamp"]
    assert (
        after["clauses"][0]["final"]["percent_agreement"]["value"]
        > before["clauses"][0]["final"]["percent_agreement"]["value"]
    )


@pytest.mark.django_db
def test_a_judges_labels_are_reported_against_gold_and_kept_out_of_human_agreement(
    personas, setup
) -> None:
    campaign, _ = setup
    human_only = campaign_agreement(campaign)["clauses"][0]["final"]
    clause = CampaignClause.objects.filter(campaign=campaign).order_by("position").first().clause
    run = make_judge_run(campaign, created_by=personas.adjudicator)
    for item in Item.objects.filter(campaign=campaign):
        judge_label_record(judge_run=run, item=item, clause=clause, verdict="violates")
    disputed = Item.objects.get(campaign=campaign, transcript__external_id="t0")
    decision_record(
        item=disputed,
        clause=clause,
        actor=personas.owner,
        verdict="violates",
        rationale="Settled.",
        current_decision_id=None,
    )
    report = campaign_agreement(campaign)
    with_judge = report["clauses"][0]["final"]
    assert with_judge["alpha_nominal"]["value"] == human_only["alpha_nominal"]["value"]
    assert with_judge["alpha_nominal"]["n_labels"] == human_only["alpha_nominal"]["n_labels"]
    [judge] = report["judges"]
    assert judge["judge_run_id"] == run.pk
    assert judge["labels"] == len(TABLE)
    assert judge["with_gold"]["n_pairs"] == 1
    assert judge["with_gold"]["percent_agreement"] == 1.0


@pytest.mark.django_db
def test_the_command_prints_the_report_as_json_and_as_a_table(setup) -> None:
    campaign, _ = setup
    out = io.StringIO()
    call_command("agreement", str(campaign.pk), "--workspace", "policy-team", "--json", stdout=out)
    report = json.loads(out.getvalue())
    assert report["campaign"]["id"] == campaign.pk
    out = io.StringIO()
    call_command("agreement", str(campaign.pk), "--workspace", "policy-team", stdout=out)
    table = out.getvalue()
    assert report["clauses"][0]["key"] in table
    assert "alpha" in table.lower()


@pytest.mark.django_db
def test_the_command_refuses_a_campaign_of_another_workspace(personas, setup) -> None:
    campaign, _ = setup
    with pytest.raises(CommandError, match="campaign"):
        call_command("agreement", str(campaign.pk), "--workspace", "other-org")


@pytest.mark.django_db
def test_the_api_serves_the_report_to_members_and_hides_it_from_outsiders(personas, setup) -> None:
    campaign, _ = setup
    url = f"/api/v1/workspaces/policy-team/campaigns/{campaign.pk}/agreement/"
    response = personas.client_for(personas.viewer).get(url)
    assert response.status_code == 200
    assert response.json()["clauses"][0]["final"]["alpha_nominal"]["n_items"] == 5
    assert personas.client_for(personas.outsider).get(url).status_code == 404
    other = f"/api/v1/workspaces/policy-team/campaigns/{campaign.pk + 999}/agreement/"
    assert personas.client_for(personas.viewer).get(other).status_code == 404


@pytest.mark.django_db
def test_the_dashboard_draws_each_clause_and_reviewer_pair_with_its_value_in_text(
    personas, setup
) -> None:
    campaign, _ = setup
    url = reverse(
        "reviews:campaign-agreement",
        kwargs={"workspace": "policy-team", "campaign_id": campaign.pk},
    )
    response = personas.client_for(personas.viewer).get(url)
    assert response.status_code == 200
    page = response.content.decode()
    assert page.count("<svg") >= 2
    report = campaign_agreement(campaign)
    alpha = report["clauses"][0]["final"]["alpha_nominal"]["value"]
    assert f"{alpha:.2f}" in page
    assert "second-reviewer@policy.test" in page
    assert personas.client_for(personas.outsider).get(url).status_code == 404


@pytest.mark.django_db
def test_the_campaign_page_links_to_its_agreement_dashboard(personas, setup) -> None:
    campaign, _ = setup
    detail = reverse(
        "reviews:campaign-detail", kwargs={"workspace": "policy-team", "campaign_id": campaign.pk}
    )
    page = personas.client_for(personas.viewer).get(detail).content.decode()
    assert f"/campaigns/{campaign.pk}/agreement/" in page


def _figures(node):  # type: ignore[no-untyped-def]
    """Every figure in a report: each dict that names its metric."""
    if isinstance(node, dict):
        if "metric" in node:
            yield node
        for value in node.values():
            yield from _figures(value)
    elif isinstance(node, list):
        for value in node:
            yield from _figures(value)


@pytest.mark.django_db
def test_every_figure_says_how_many_items_and_labels_it_used(setup) -> None:
    campaign, reviewers = setup
    report = campaign_agreement(campaign)
    figures = list(_figures(report))
    assert len(figures) > 20
    assert all(isinstance(f["n_items"], int) and isinstance(f["n_labels"], int) for f in figures)
    # Against the others: the items where the first reviewer and someone else gave a verdict
    # (all but t5, where they are alone), and every verdict on those items.
    by_id = {row["id"]: row for row in report["reviewers"]}
    with_others = by_id[reviewers[0].pk]["with_others"]
    assert (with_others["n_items"], with_others["n_labels"]) == (5, 14)


@pytest.mark.django_db
def test_the_cached_report_is_recomputed_after_a_gold_decision(personas, setup) -> None:
    campaign, _ = setup
    before = campaign_agreement(campaign)
    clause = CampaignClause.objects.filter(campaign=campaign).order_by("position").first().clause
    disputed = Item.objects.get(campaign=campaign, transcript__external_id="t0")
    current = GoldDecision.objects.filter(item=disputed, clause=clause, is_current=True).first()
    decision_record(
        item=disputed,
        clause=clause,
        actor=personas.owner,
        verdict="violates",
        rationale="Settled.",
        current_decision_id=current.pk if current else None,
    )
    after = campaign_agreement(campaign)
    assert after["stamp"] != before["stamp"]
    assert (before["counts"]["adjudicated"], after["counts"]["adjudicated"]) == (0, 1)


@pytest.mark.django_db
def test_the_dashboard_reads_a_computed_report_in_a_fixed_number_of_queries(
    personas, setup, django_assert_num_queries
) -> None:
    campaign, _ = setup
    url = reverse(
        "reviews:campaign-agreement",
        kwargs={"workspace": "policy-team", "campaign_id": campaign.pk},
    )
    client = personas.client_for(personas.viewer)
    assert client.get(url).status_code == 200  # computes and caches the report
    # Session, user, membership, campaign, the stamp (one statement of index probes), the
    # cache read, and the layout's workspace list: however many labels the campaign has.
    with django_assert_num_queries(7):
        assert client.get(url).status_code == 200
