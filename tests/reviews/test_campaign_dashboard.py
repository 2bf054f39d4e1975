"""The workspace dashboard is served by the reviews app (the platform imports none of the apps
above it) and lists the workspace's open campaigns."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import resolve, reverse

from reviews.models import Campaign
from reviews.views.dashboard import dashboard
from tests.reviews.factories import make_campaign

ROOT = Path(__file__).resolve().parents[2]


def _titled(personas, title: str, status: str) -> Campaign:  # type: ignore[no-untyped-def]
    campaign = make_campaign(
        personas.workspace,
        created_by=personas.adjudicator,
        reviewers=[personas.reviewer, personas.second_reviewer],
        transcripts=1,
        status=status,
    )
    Campaign.objects.filter(pk=campaign.pk).update(title=title)
    return campaign


def test_the_platform_views_import_nothing_from_the_apps_above_it() -> None:
    tree = ast.parse((ROOT / "clausebook" / "views.py").read_text())
    imported = {
        name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for name in (
            [node.module or ""]
            if isinstance(node, ast.ImportFrom)
            else [a.name for a in node.names]
        )
    }
    assert not {m for m in imported if m.split(".")[0] in {"specs", "transcripts", "reviews"}}
    assert resolve(reverse("workspace-dashboard", args=["policy-team"])).func is dashboard


@pytest.mark.django_db
def test_the_dashboard_lists_open_campaigns_only(personas) -> None:
    for status in ("draft", "open", "paused", "closed"):
        _titled(personas, f"A {status} campaign", status)
    response = personas.client_for(personas.viewer).get(
        reverse("workspace-dashboard", args=[personas.workspace.slug])
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "A open campaign" in html
    for hidden in ("A draft campaign", "A paused campaign", "A closed campaign"):
        assert hidden not in html


@pytest.mark.django_db
def test_the_dashboard_counts_my_items_in_progress(personas) -> None:
    from reviews.services.campaigns import item_claim_next

    campaign = _titled(personas, "Mine", "open")
    item_claim_next(campaign=campaign, reviewer=personas.reviewer)
    response = personas.client_for(personas.reviewer).get(
        reverse("workspace-dashboard", args=[personas.workspace.slug])
    )
    assert response.context["review"].in_progress == 1


@pytest.mark.django_db
def test_the_dashboard_runs_as_many_queries_for_ten_campaigns_as_for_one(personas) -> None:
    client = personas.client_for(personas.viewer)
    url = reverse("workspace-dashboard", args=[personas.workspace.slug])
    _titled(personas, "First", "open")
    client.get(url)
    with CaptureQueriesContext(connection) as one:
        client.get(url)
    for n in range(9):
        _titled(personas, f"More {n}", "open")
    with CaptureQueriesContext(connection) as ten:
        assert "More 8" in client.get(url).content.decode()
    assert len(ten.captured_queries) == len(one.captured_queries)


# --- What the dashboard tells each member (issue 9) ------------------------------------------


def _dashboard(personas, user) -> str:  # type: ignore[no-untyped-def]
    response = personas.client_for(user).get(
        reverse("workspace-dashboard", args=[personas.workspace.slug])
    )
    assert response.status_code == 200
    return response.content.decode()


def _claimable_card(html: str) -> str:
    start = html.index('data-testid="claimable"')
    return " ".join(html[start : html.index("</div>", start)].split())


@pytest.mark.django_db
def test_a_reviewer_with_150_claimable_items_is_told_so(personas) -> None:
    make_campaign(
        personas.workspace,
        created_by=personas.adjudicator,
        reviewers=[personas.reviewer, personas.second_reviewer],
        transcripts=150,
        clause_count=1,
        message_count=1,
    )
    card = _claimable_card(_dashboard(personas, personas.reviewer))
    assert '<span class="value">150</span>' in card
    assert "items you can claim in 1 open campaign" in card


@pytest.mark.django_db
def test_the_claimable_count_is_what_claiming_would_hand_out(personas) -> None:
    from reviews.services.campaigns import assignment_skip, item_claim_next
    from tests.reviews.factories import label_and_submit

    campaign = make_campaign(
        personas.workspace,
        created_by=personas.adjudicator,
        reviewers=[personas.reviewer, personas.second_reviewer],
        transcripts=7,
        clause_count=1,
        message_count=1,
        k=1,
    )
    label_and_submit(campaign, personas.reviewer, ["complies"])  # item 1: done by me
    skipped = item_claim_next(campaign=campaign, reviewer=personas.reviewer)  # item 2: skipped
    assignment_skip(assignment=skipped, reviewer=personas.reviewer, reason="Not my language")
    item_claim_next(campaign=campaign, reviewer=personas.second_reviewer)  # item 2: full again
    item_claim_next(campaign=campaign, reviewer=personas.reviewer)  # item 3: in progress
    paused = make_campaign(  # a paused campaign hands out nothing: it counts for nothing
        personas.workspace,
        created_by=personas.adjudicator,
        reviewers=[personas.reviewer, personas.second_reviewer],
        transcripts=3,
        k=1,
        status="paused",
    )
    make_campaign(  # not seated here: not counted for me
        personas.workspace, created_by=personas.adjudicator, reviewers=[personas.second_reviewer]
    )
    card = _claimable_card(_dashboard(personas, personas.reviewer))
    assert '<span class="value">4</span>' in card  # items 4 to 7
    assert "· 1 in progress" in card
    queue = personas.client_for(personas.reviewer).get("/w/policy-team/queue/").content.decode()
    assert "4 more for you to claim" in queue
    assert f'data-testid="to-claim-{paused.pk}"' not in queue

    # Claiming (and skipping each) hands out exactly that many, then nothing.
    current = item_claim_next(campaign=campaign, reviewer=personas.reviewer)
    assignment_skip(assignment=current, reviewer=personas.reviewer, reason="Come back later")
    handed_out = 0
    while (next_one := item_claim_next(campaign=campaign, reviewer=personas.reviewer)) is not None:
        handed_out += 1
        assignment_skip(assignment=next_one, reviewer=personas.reviewer, reason="Counting")
    assert handed_out == 4


@pytest.mark.django_db
def test_a_viewer_is_offered_no_queue_and_nothing_to_claim(personas) -> None:
    _titled(personas, "Open one", "open")
    html = _dashboard(personas, personas.viewer)
    assert '<span class="value">0</span>' in _claimable_card(html)
    assert "Open my queue" not in html


@pytest.mark.django_db
def test_the_dashboard_shows_the_current_published_version_never_a_draft(personas) -> None:
    from specs.models import SpecVersion
    from tests.reviews.factories import make_published_version

    make_published_version(personas.workspace, label="2025-09-12")
    make_published_version(personas.workspace, label="2025-10-27")
    spec = SpecVersion.objects.get(label="2025-10-27").spec
    SpecVersion.objects.create(spec=spec, label="2026-01-15")  # a newer draft
    html = _dashboard(personas, personas.viewer)
    row = html[html.index('data-testid="spec-model-spec"') :]
    row = row[: row.index("</li>")]
    current = re.search(r'data-testid="spec-current">([^<]*)<', row)
    assert current and current.group(1) == "2025-10-27"
    assert "2026-01-15" not in row
    assert "3 versions · 1 draft" in " ".join(row.split())


@pytest.mark.django_db
def test_a_spec_with_nothing_published_says_so(personas) -> None:
    from specs.models import Spec, SpecVersion

    spec = Spec.objects.create(workspace=personas.workspace, slug="fresh", title="Fresh")
    SpecVersion.objects.create(spec=spec, label="2026-02-01")
    html = _dashboard(personas, personas.viewer)
    row = html[html.index('data-testid="spec-fresh"') :]
    assert 'data-testid="spec-current">nothing published yet<' in row[: row.index("</li>")]
    assert "2026-02-01" not in row[: row.index("</li>")]


@pytest.mark.django_db
def test_one_reviewer_and_one_item_are_singular(personas) -> None:
    campaign = make_campaign(
        personas.workspace,
        created_by=personas.adjudicator,
        reviewers=[personas.reviewer],
        transcripts=1,
        k=1,
    )
    html = _dashboard(personas, personas.reviewer)
    row = html[html.index(f'data-testid="open-campaign-{campaign.pk}"') :]
    row = " ".join(row[: row.index("</li>")].split())
    assert "1 item · 1 reviewer each · <strong>1</strong> for you to claim" in row
    assert "1 reviewers" not in html and "1 items" not in html
    assert (
        '<span class="value">1</span> <span class="label">item you can claim in 1 open campaign'
        in _claimable_card(html)
    )


@pytest.mark.django_db
def test_activity_reads_as_sentences_not_codes(personas) -> None:
    from reviews.services.campaigns import item_claim_next

    campaign = _titled(personas, "Sentences", "open")
    item_claim_next(campaign=campaign, reviewer=personas.reviewer)
    html = _dashboard(personas, personas.viewer)
    activity = html[html.index('id="activity-heading"') :]
    for sentence in ("Created a campaign", "Opened a campaign for labeling", "Claimed an item"):
        assert f">{sentence}</td>" in activity
    for code in ("campaign.create", "campaign.open", "assignment.claim"):
        assert f">{code}<" not in activity


def _recorded_verbs() -> set[str]:
    """Every verb the code passes to ``audit.record`` or builds into an ``AuditEvent``, with the
    verbs built at run time expanded to each value they can take."""
    literal = re.compile(r'verb="([a-z_]+\.[a-z_]+)"')
    verbs: set[str] = set()
    for app in ("clausebook", "specs", "transcripts", "reviews"):
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" not in path.parts:
                verbs |= set(literal.findall(path.read_text()))
    from reviews.models.gold import DecisionKind

    verbs |= {f"campaign.{action}" for action in Campaign.TRANSITIONS}
    verbs |= {f"gold.{kind}" for kind in DecisionKind.values}
    verbs |= {"clause_alias.confirm", "clause_alias.reject"}
    return verbs


def test_every_recorded_verb_has_a_sentence() -> None:
    from reviews.campaign_presenters import ACTIVITY_SENTENCES, activity_sentence

    missing = sorted(_recorded_verbs() - set(ACTIVITY_SENTENCES))
    assert not missing, f"add a sentence to ACTIVITY_SENTENCES for: {missing}"
    assert activity_sentence("campaign.archive") == "Campaign: archive"  # never a raw code
