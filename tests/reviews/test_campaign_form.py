"""The new-campaign form as served (issue 9, "the campaign form"): a clause picker of the chosen
version instead of typed keys, a live count that respects the limit, a real label for k, and
fields that matter for one choice only marked to show for that choice. What a browser does with
them is in ``test_campaign_browser.py``."""

from __future__ import annotations

import re

import pytest

from reviews.models import Campaign
from tests.reviews.factories import make_published_version, make_transcript

pytestmark = pytest.mark.django_db

NEW = "/w/policy-team/campaigns/new/"
HTMX = {"HX-Request": "true"}


def _form(personas, query: str = "") -> str:  # type: ignore[no-untyped-def]
    response = personas.client_for(personas.adjudicator).get(NEW + query)
    assert response.status_code == 200
    return response.content.decode()


def _wrapper(html: str, rule: str) -> str:
    """The opening tag of the element shown only when ``rule`` ("field=value") holds."""
    match = re.search(rf'<div[^>]*data-show-when="{re.escape(rule)}"[^>]*>', html)
    assert match, f"nothing is shown only when {rule}"
    return match.group(0)


def test_k_has_a_label_that_says_what_it_is(personas) -> None:
    make_published_version(personas.workspace)
    html = _form(personas)
    assert '<label for="id_reviewers_per_item">Reviewers per item (k)</label>' in html
    assert ">k</label>" not in html


def test_the_clause_picker_lists_the_newest_versions_clauses_as_checkboxes(personas) -> None:
    make_published_version(personas.workspace, keys=["old_only"], label="2025-01-01")
    make_published_version(personas.workspace, keys=["root", "honesty", "privacy"])
    html = _form(personas)
    boxes = re.findall(r'<input type="checkbox" name="clause_keys" value="([^"]+)"', html)
    assert boxes == ["root", "honesty", "privacy"]
    subtree = re.search(r'<select name="parent_key".*?</select>', html, re.S)
    assert subtree and re.findall(r'<option value="(\w+)"', subtree.group(0)) == [
        "root",
        "honesty",
        "privacy",
    ]
    assert '<textarea name="clause_keys"' not in html  # no typing keys by hand


def test_choosing_another_version_swaps_in_its_clauses_and_keeps_the_ticks(personas) -> None:
    old = make_published_version(personas.workspace, keys=["root", "honesty"], label="2025-01-01")
    make_published_version(personas.workspace, keys=["root", "privacy"])
    response = personas.client_for(personas.adjudicator).get(
        NEW,
        {"partial": "clauses", "spec_version": old.pk, "scope": "list", "clause_keys": "honesty"},
        headers=HTMX,
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="clause-picker"')
    assert "<form" not in html
    assert re.findall(r'name="clause_keys" value="(\w+)"( checked)?', html) == [
        ("root", ""),
        ("honesty", " checked"),
    ]
    assert "hidden" not in _wrapper(html, "scope=list")  # the scope asked for is shown


def test_fields_for_one_choice_are_hidden_until_that_choice_is_made(personas) -> None:
    make_published_version(personas.workspace)
    first = _form(personas)
    for rule in (
        "scope=subtree",
        "scope=list",
        "source=import",
        "source=tag",
        "source=search",
        "verdict_preset=custom",
    ):
        assert _wrapper(first, rule).endswith(" hidden>"), rule
    # A form shown again after an error shows what was chosen.
    again = personas.client_for(personas.adjudicator).post(
        NEW, {"title": "", "scope": "subtree", "source": "tag", "verdict_preset": "custom"}
    )
    html = again.content.decode()
    for rule in ("scope=subtree", "source=tag", "verdict_preset=custom"):
        assert "hidden" not in _wrapper(html, rule), rule
    assert _wrapper(html, "scope=list").endswith(" hidden>")
    # The script that reveals them is a static file, loaded with the page's CSP nonce, and a
    # stylesheet shows every field when JavaScript is off.
    assert re.search(r'<script src="/static/js/campaign-form\.js" nonce="[^"]+" defer>', first)
    assert re.search(
        r'<noscript><link rel="stylesheet" href="[^"]*noscript\.css"></noscript>', first
    )


@pytest.mark.parametrize(
    ("limit", "items", "says"),
    [
        ("", 4, "4 transcripts match: <strong>4 items</strong>."),
        ("10", 4, "4 transcripts match: <strong>4 items</strong>."),
        ("3", 3, "4 transcripts match; the limit keeps the first 3: <strong>3 items</strong>."),
        ("1", 1, "4 transcripts match; the limit keeps the first 1: <strong>1 item</strong>."),
    ],
)
def test_the_live_count_says_how_many_items_the_limit_leaves(personas, limit, items, says) -> None:
    for _ in range(4):
        make_transcript(personas.workspace, tags=["hh"])
    make_transcript(personas.workspace, tags=["other"])
    response = personas.client_for(personas.adjudicator).get(
        NEW, {"partial": "preview", "source": "tag", "tag": "hh", "limit": limit}, headers=HTMX
    )
    html = response.content.decode()
    assert f'data-items="{items}"' in html
    assert says in html


def test_ticked_clauses_become_the_campaigns_scope(personas) -> None:
    version = make_published_version(personas.workspace, keys=["root", "honesty", "privacy"])
    make_transcript(personas.workspace)
    response = personas.client_for(personas.adjudicator).post(
        NEW,
        {
            "title": "Picked",
            "spec_version": version.pk,
            "scope": "list",
            "clause_keys": ["privacy", "honesty"],
            "source": "all",
            "reviewers_per_item": 1,
            "verdict_preset": "default",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    campaign = Campaign.objects.get()
    scope = campaign.campaign_clauses.order_by("position").values_list("clause__key", flat=True)
    assert set(scope) == {"honesty", "privacy"}


def test_a_list_scope_with_nothing_ticked_says_so_next_to_the_picker(personas) -> None:
    version = make_published_version(personas.workspace)
    make_transcript(personas.workspace)
    response = personas.client_for(personas.adjudicator).post(
        NEW,
        {
            "title": "Nothing picked",
            "spec_version": version.pk,
            "scope": "list",
            "source": "all",
            "reviewers_per_item": 1,
            "verdict_preset": "default",
        },
    )
    html = response.content.decode()
    picker = html[html.index('data-show-when="scope=list"') :]
    assert '<div class="field-error">Choose at least one clause.</div>' in picker[:4000]
    assert not Campaign.objects.exists()


@pytest.mark.parametrize(
    ("ticked", "gold_from_agreement", "adjudicator_may_have_labeled"),
    [([], False, False), (["gold_from_agreement", "adjudicator_may_have_labeled"], True, True)],
)
def test_the_form_sets_how_pairs_become_gold(
    personas, ticked, gold_from_agreement, adjudicator_may_have_labeled
) -> None:
    version = make_published_version(personas.workspace)
    make_transcript(personas.workspace)
    fields = {
        "title": "Gold rules",
        "spec_version": version.pk,
        "scope": "all",
        "source": "all",
        "reviewers_per_item": 1,
        "verdict_preset": "default",
    }
    response = personas.client_for(personas.adjudicator).post(
        NEW, {**fields, **dict.fromkeys(ticked, "on")}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    campaign = Campaign.objects.get()
    assert campaign.gold_from_agreement is gold_from_agreement
    assert campaign.adjudicator_may_have_labeled is adjudicator_may_have_labeled


def test_a_new_form_offers_gold_from_agreement_ticked(personas) -> None:
    html = _form(personas)
    assert re.search(r'<input[^>]*name="gold_from_agreement"[^>]*checked', html)
    assert re.search(r'<input[^>]*name="adjudicator_may_have_labeled"(?![^>]*checked)[^>]*>', html)
