"""The labeling page: constant query count, blind visibility, access, untrusted text."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clausebook import caching
from reviews.services.campaigns import item_claim_next
from reviews.services.labels.core import LabelInput
from reviews.services.labels.judge import judge_label_record
from reviews.services.labels.save import label_save, labels_save
from reviews.services.labels.submit import assignment_submit
from tests.reviews.factories import make_campaign, make_judge_run, make_transcript


def _page(personas, campaign, item_id: int) -> str:  # type: ignore[no-untyped-def]
    return f"/w/{personas.workspace.slug}/campaigns/{campaign.pk}/items/{item_id}/"


def _count_page_queries(personas, messages: int, clauses: int) -> int:  # type: ignore[no-untyped-def]
    campaign = make_campaign(
        personas.workspace,
        created_by=personas.adjudicator,
        reviewers=[personas.reviewer],
        transcripts=1,
        clause_count=clauses,
        message_count=messages,
    )
    assignment = item_claim_next(campaign=campaign, reviewer=personas.reviewer)
    client = personas.client_for(personas.reviewer)
    client.get(_page(personas, campaign, assignment.item_id))  # warm the session
    with CaptureQueriesContext(connection) as queries:
        response = client.get(_page(personas, campaign, assignment.item_id))
    assert response.status_code == 200
    return len(queries)


@pytest.mark.django_db
def test_the_page_query_count_does_not_grow_with_transcript_length_or_scope(
    personas, django_assert_num_queries
) -> None:
    small = _count_page_queries(personas, messages=5, clauses=3)
    large = _count_page_queries(personas, messages=40, clauses=80)
    assert small == large
    campaign = make_campaign(
        personas.workspace,
        created_by=personas.adjudicator,
        reviewers=[personas.reviewer],
        transcripts=1,
        clause_count=80,
        message_count=40,
    )
    assignment = item_claim_next(campaign=campaign, reviewer=personas.reviewer)
    client = personas.client_for(personas.reviewer)
    # The first view of a campaign reads its scope, the clauses' examples and the version's
    # clause titles (for cross-references; one query each, whatever their number) to render the
    # clause cards; scope and cards are then cached for the process.
    with django_assert_num_queries(large + 3):
        assert client.get(_page(personas, campaign, assignment.item_id)).status_code == 200
    with django_assert_num_queries(large):
        assert client.get(_page(personas, campaign, assignment.item_id)).status_code == 200
    # The caches are the platform's bounded ones, so emptying every cache reaches them too.
    caching.clear_all()
    with django_assert_num_queries(large + 3):
        assert client.get(_page(personas, campaign, assignment.item_id)).status_code == 200


@pytest.mark.django_db
def test_the_page_shows_the_transcript_and_every_clause_in_scope(personas) -> None:
    campaign = make_campaign(
        personas.workspace, created_by=personas.adjudicator, reviewers=[personas.reviewer]
    )
    assignment = item_claim_next(campaign=campaign, reviewer=personas.reviewer)
    html = (
        personas.client_for(personas.reviewer)
        .get(_page(personas, campaign, assignment.item_id))
        .content.decode()
    )
    assert 'data-message-index="1"' in html
    for cc in campaign.campaign_clauses.select_related("clause"):
        assert f'id="clause-{cc.clause.key}"' in html
    assert 'id="label-data"' in html and "labeling.js" in html
    assert "Keyboard shortcuts" in html


@pytest.mark.django_db
def test_untrusted_transcript_text_is_sanitized_inside_an_hx_disable_region(personas) -> None:
    evil = make_transcript(
        personas.workspace,
        messages=[
            {"role": "user", "content": '<script>alert(1)</script><img src=x onerror="alert(2)">'},
            {"role": "assistant", "content": '<div hx-get="/x" hx-trigger="load">'},
            {"role": "user", "content": "[click me](javascript:alert(3))"},
        ],
    )
    campaign = make_campaign(
        personas.workspace,
        created_by=personas.adjudicator,
        reviewers=[personas.reviewer],
        transcripts=[evil],
    )
    assignment = item_claim_next(campaign=campaign, reviewer=personas.reviewer)
    html = (
        personas.client_for(personas.reviewer)
        .get(_page(personas, campaign, assignment.item_id))
        .content.decode()
    )
    transcript = html.split('aria-label="Transcript"', 1)[1].split("</section>", 1)[0]
    assert "<script>alert" not in transcript
    assert "<img" not in transcript  # shown as text, never as an element
    assert "<div hx-get" not in transcript
    assert 'href="javascript:' not in transcript
    assert 'aria-label="Transcript" hx-disable' in html


def _labeled_item(personas, *, blind: bool):  # type: ignore[no-untyped-def]
    """The second reviewer has submitted the item (a secret rationale on its first clause); the
    reviewer has just claimed it."""
    campaign = make_campaign(
        personas.workspace,
        created_by=personas.adjudicator,
        reviewers=[personas.reviewer, personas.second_reviewer],
        transcripts=1,
        clause_count=2,
        blind=blind,
    )
    theirs = item_claim_next(campaign=campaign, reviewer=personas.second_reviewer)
    clause_ids = [cc.clause_id for cc in campaign.campaign_clauses.order_by("position")]
    labels_save(
        assignment=theirs,
        reviewer=personas.second_reviewer,
        labels=[
            LabelInput(clause=clause_ids[0], verdict="violates", rationale="SECRET-RATIONALE"),
            LabelInput(clause=clause_ids[1], verdict="complies"),
        ],
        submit=True,
    )
    mine = item_claim_next(campaign=campaign, reviewer=personas.reviewer)
    return campaign, mine, clause_ids


@pytest.mark.django_db
def test_blind_a_reviewer_sees_no_one_elses_labels_until_they_submitted_their_own(
    personas,
) -> None:
    campaign, mine, clause_ids = _labeled_item(personas, blind=True)
    client = personas.client_for(personas.reviewer)
    page = _page(personas, campaign, mine.item_id)
    api = f"/api/v1/workspaces/{personas.workspace.slug}/labels/?item={mine.item_id}"
    assert "SECRET-RATIONALE" not in client.get(page).content.decode()
    assert client.get(api).json()["results"] == []
    label_save(
        assignment=mine,
        reviewer=personas.reviewer,
        data=LabelInput(clause=clause_ids[0], verdict="complies"),
    )
    assert len(client.get(api).json()["results"]) == 1  # only my own draft
    label_save(
        assignment=mine,
        reviewer=personas.reviewer,
        data=LabelInput(clause=clause_ids[1], verdict="complies"),
    )
    assignment_submit(assignment=mine, reviewer=personas.reviewer)
    assert "SECRET-RATIONALE" in client.get(page).content.decode()
    assert len(client.get(api).json()["results"]) == 4


@pytest.mark.django_db
def test_open_labeling_shows_others_labels_and_adjudicators_see_all(personas) -> None:
    campaign, mine, _ = _labeled_item(personas, blind=False)
    page = _page(personas, campaign, mine.item_id)
    assert "SECRET-RATIONALE" in personas.client_for(personas.reviewer).get(page).content.decode()
    blind_campaign, other, _ = _labeled_item(personas, blind=True)
    adjudicator = personas.client_for(personas.adjudicator)
    html = adjudicator.get(_page(personas, blind_campaign, other.item_id)).content.decode()
    assert "SECRET-RATIONALE" in html


@pytest.mark.django_db
def test_a_judges_verdict_stays_hidden_from_blind_reviewers_and_shows_to_adjudicators_as_a_models(
    personas,
) -> None:
    campaign, mine, clause_ids = _labeled_item(personas, blind=True)
    run = make_judge_run(campaign, created_by=personas.editor, name="Claude judge")
    judge_label_record(
        judge_run=run,
        item=mine.item,
        clause=campaign.campaign_clauses.get(clause_id=clause_ids[1]).clause,
        verdict="borderline",
        rationale="MODEL-RATIONALE",
    )
    page = _page(personas, campaign, mine.item_id)
    api = f"/api/v1/workspaces/{personas.workspace.slug}/labels/?item={mine.item_id}"
    reviewer = personas.client_for(personas.reviewer)
    assert "MODEL-RATIONALE" not in reviewer.get(page).content.decode()
    for clause_id in clause_ids:
        label_save(
            assignment=mine,
            reviewer=personas.reviewer,
            data=LabelInput(clause=clause_id, verdict="complies"),
        )
    assignment_submit(assignment=mine, reviewer=personas.reviewer)
    after = reviewer.get(page).content.decode()
    assert "SECRET-RATIONALE" in after  # others' human labels show after submitting...
    assert "MODEL-RATIONALE" not in after  # ...a judge's never, on a blind campaign
    listed = reviewer.get(api).json()["results"]
    assert len(listed) == 4 and {label["source"] for label in listed} == {"human"}
    adjudicator = personas.client_for(personas.adjudicator)
    html = adjudicator.get(page).content.decode()
    assert "MODEL-RATIONALE" in html
    assert 'data-source="judge"' in html and "model: Claude judge (judge-v1)" in html
    [judged] = [
        label for label in adjudicator.get(api).json()["results"] if label["reviewer"] is None
    ]
    assert (judged["source"], judged["verdict"]) == ("judge", "borderline")
    assert judged["judge_run"] == {
        "id": run.pk,
        "endpoint": "Claude judge",
        "model": "judge-large",
        "prompt_version": "judge-v1",
    }


@pytest.mark.django_db
def test_roles_and_tenancy_on_every_labeling_route(personas) -> None:
    campaign = make_campaign(
        personas.workspace,
        created_by=personas.adjudicator,
        reviewers=[personas.reviewer, personas.second_reviewer],
    )
    mine = item_claim_next(campaign=campaign, reviewer=personas.reviewer)
    ws = personas.workspace.slug
    base = f"/w/{ws}/campaigns/{campaign.pk}"
    item = f"{base}/items/{mine.item_id}"
    routes = [
        ("get", f"/w/{ws}/campaigns/"),
        ("get", f"{base}/"),
        ("get", f"/w/{ws}/queue/"),
        ("get", f"/w/{ws}/campaigns/new/"),
        ("post", f"{base}/claim/"),
        ("get", f"{item}/"),
        ("post", f"{item}/submit/"),
        ("post", f"{item}/skip/"),
        ("post", f"/api/v1/workspaces/{ws}/campaigns/{campaign.pk}/items/{mine.item_id}/labels/"),
    ]
    outsider = personas.client_for(personas.outsider)
    for method, url in routes:
        assert getattr(outsider, method)(url).status_code == 404, url
    viewer = personas.client_for(personas.viewer)
    for method, url in routes[4:]:
        assert getattr(viewer, method)(url).status_code == 403, url
    other = personas.client_for(personas.second_reviewer)
    for method, url in routes[5:]:
        assert getattr(other, method)(url).status_code == 403, url
    assert personas.client_for(personas.reviewer).get(f"/w/{ws}/campaigns/new/").status_code == 403
    api = f"/api/v1/workspaces/{ws}"
    for url in [
        f"{api}/campaigns/",
        f"{api}/campaigns/{campaign.pk}/",
        f"{api}/campaigns/{campaign.pk}/items/",
        f"{api}/assignments/",
        f"{api}/labels/",
    ]:
        assert outsider.get(url).status_code == 404, url
    other_api = f"/api/v1/workspaces/{personas.other_workspace.slug}"
    assert outsider.get(f"{other_api}/campaigns/{campaign.pk}/").status_code == 404
    assert outsider.post(f"{other_api}/campaigns/{campaign.pk}/claim/").status_code == 404
    assert outsider.post(f"{other_api}/assignments/{mine.pk}/submit/").status_code == 404


@pytest.mark.django_db
def test_the_queue_lists_my_campaigns_with_a_constant_query_count(
    personas, django_assert_num_queries
) -> None:
    client = personas.client_for(personas.reviewer)
    url = f"/w/{personas.workspace.slug}/queue/"
    make_campaign(
        personas.workspace, created_by=personas.adjudicator, reviewers=[personas.reviewer]
    )
    client.get(url)
    with CaptureQueriesContext(connection) as one:
        client.get(url)
    for _ in range(3):
        campaign = make_campaign(
            personas.workspace,
            created_by=personas.adjudicator,
            reviewers=[personas.reviewer],
            transcripts=4,
        )
        item_claim_next(campaign=campaign, reviewer=personas.reviewer)
    with django_assert_num_queries(len(one)):
        response = client.get(url)
    assert response.content.decode().count("Continue") == 3


@pytest.mark.django_db
def test_campaign_detail_shows_progress_per_reviewer(personas, django_assert_num_queries) -> None:
    campaign = make_campaign(
        personas.workspace,
        created_by=personas.adjudicator,
        reviewers=[personas.reviewer, personas.second_reviewer],
    )
    item_claim_next(campaign=campaign, reviewer=personas.reviewer)
    client = personas.client_for(personas.adjudicator)
    url = f"/w/{personas.workspace.slug}/campaigns/{campaign.pk}/"
    client.get(url)
    with CaptureQueriesContext(connection) as queries:
        html = client.get(url).content.decode()
    assert "reviewer@policy.test" in html and "<svg" in html
    item_claim_next(campaign=campaign, reviewer=personas.second_reviewer)
    with django_assert_num_queries(len(queries)):
        client.get(url)


@pytest.mark.django_db
def test_a_reviewers_own_page_costs_six_plain_queries(personas) -> None:
    """Pinned (issues 9 and 10, speed): session, user, membership, the reviewer's assignment
    with its item, campaign and transcript (one query), the reviewer's own labels, the
    navigation's workspaces; the clauses in scope are cached per campaign after the first view.
    Blind visibility for the one item is decided from what is loaded, so the label read is a
    plain index read on (item, reviewer): no EXISTS per row, no join."""
    campaign = make_campaign(
        personas.workspace,
        created_by=personas.adjudicator,
        reviewers=[personas.reviewer, personas.second_reviewer],
        transcripts=1,
        clause_count=12,
    )
    theirs = item_claim_next(campaign=campaign, reviewer=personas.second_reviewer)
    clause_ids = [cc.clause_id for cc in campaign.campaign_clauses.order_by("position")]
    labels_save(
        assignment=theirs,
        reviewer=personas.second_reviewer,
        labels=[LabelInput(clause=pk, verdict="complies") for pk in clause_ids],
        submit=True,
    )
    assignment = item_claim_next(campaign=campaign, reviewer=personas.reviewer)
    label_save(
        assignment=assignment,
        reviewer=personas.reviewer,
        data=LabelInput(clause=clause_ids[0], verdict="violates"),
    )
    client = personas.client_for(personas.reviewer)
    url = _page(personas, campaign, assignment.item_id)
    assert client.get(url).status_code == 200  # renders and caches the clause cards
    with CaptureQueriesContext(connection) as queries:
        html = client.get(url).content.decode()
    assert len(queries) == 6, "\n".join(q["sql"] for q in queries.captured_queries)
    [label_read] = [q["sql"] for q in queries if 'FROM "reviews_label"' in q["sql"]]
    assert "EXISTS" not in label_read and "JOIN" not in label_read
    # Blind: the other reviewer's submitted verdicts are not on the page.
    assert html.count('value="complies" checked') == 0
    assert 'value="violates" checked' in html


def _version_with_cross_references(workspace):  # type: ignore[no-untyped-def]
    """A published version whose first clause refers to a clause in a campaign's scope, to one
    outside it, to a key the version lacks, and to an eval footnote with its prompt."""
    from django.utils import timezone

    from specs.models import Clause, EvalPrompt, Spec, SpecVersion, VersionStatus

    spec, _ = Spec.objects.get_or_create(
        workspace=workspace, slug="model-spec", defaults={"title": "Model Spec"}
    )
    version = SpecVersion.objects.create(spec=spec, label="2025-12-18")
    bodies = {
        "alpha": "Follow [?](#beta), mind [?](#gamma) and [the lost one](#nowhere).[^ab12]",
        "beta": "Be honest.",
        "gamma": "Respect privacy.",
    }
    clauses = {}
    for position, (key, body) in enumerate(bodies.items()):
        clauses[key] = Clause.objects.create(
            version=version,
            key=key,
            title=key.capitalize(),
            level=1,
            position=position,
            authority="user",
            body=body,
        )
    EvalPrompt.objects.create(
        clause=clauses["alpha"],
        footnote_id="ab12",
        title="Probe",
        messages=[{"role": "user", "content": "Hello"}],
    )
    version.status = VersionStatus.PUBLISHED
    version.published_at = timezone.now()
    version.save()
    return version


@pytest.mark.django_db
def test_cross_references_in_clause_cards_lead_to_a_card_or_the_clause_in_the_spec(
    personas,
) -> None:
    import re

    from reviews.selectors.campaigns import ScopeChoice, TranscriptChoice
    from reviews.services.campaigns import campaign_create

    version = _version_with_cross_references(personas.workspace)
    transcript = make_transcript(personas.workspace)
    campaign = campaign_create(
        workspace=personas.workspace,
        actor=personas.adjudicator,
        title="Scoped",
        spec_version=version,
        scope=ScopeChoice(mode="list", keys=["alpha", "beta"]),
        transcripts=TranscriptChoice(source="ids", ids=[transcript.pk]),
        reviewers=[personas.reviewer],
        reviewers_per_item=1,
        open_now=True,
    )
    assignment = item_claim_next(campaign=campaign, reviewer=personas.reviewer)
    client = personas.client_for(personas.reviewer)
    html = client.get(_page(personas, campaign, assignment.item_id)).content.decode()
    card = html[html.index('id="clause-alpha"') : html.index('id="clause-beta"')]
    hrefs = re.findall(r'<a [^>]*href="([^"]+)"', card)
    spec = f"/w/{personas.workspace.slug}/specs/model-spec/v/2025-12-18/c/"
    assert hrefs == [
        "#clause-beta",  # in scope: its card on this page
        spec + "gamma/",  # out of scope: the clause's page in the spec
        spec + "alpha/",  # a key the version lacks: the citing clause's own page
        spec + "alpha/#eval-prompts-ab12",  # the footnote: its prompts on the clause's page
    ]
    for href in hrefs:
        path, _, fragment = href.partition("#")
        target = html if not path else client.get(path).content.decode()
        if path:
            assert client.get(path).status_code == 200, href
        if fragment:
            assert f'id="{fragment}"' in target, href


@pytest.mark.django_db
def test_the_page_says_which_item_of_how_many_and_how_many_clauses_are_done(personas) -> None:
    campaign = make_campaign(
        personas.workspace,
        created_by=personas.adjudicator,
        reviewers=[personas.reviewer],
        transcripts=3,
        clause_count=12,
        k=1,
    )
    first = item_claim_next(campaign=campaign, reviewer=personas.reviewer)
    clause_ids = [cc.clause_id for cc in campaign.campaign_clauses.order_by("position")]
    labels_save(
        assignment=first,
        reviewer=personas.reviewer,
        labels=[LabelInput(clause=pk, verdict="complies") for pk in clause_ids[:3]]
        + [LabelInput(clause=clause_ids[3], rationale="Thinking about it")],
    )
    html = (
        personas.client_for(personas.reviewer)
        .get(_page(personas, campaign, first.item_id))
        .content.decode()
    )
    position = first.item.position + 1
    assert f'data-testid="item-position">Item {position} of 3</strong>' in html
    assert '<span id="done-count">3</span> of 12' in html
