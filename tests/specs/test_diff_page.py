"""The version diff page: the text as read, one summary, a jump list, kind filters, collapsible
changes, and a rename decision that answers with the updated counts."""

from __future__ import annotations

import html as html_lib
import re
from html.parser import HTMLParser

import pytest
from django.urls import reverse

from clausebook.models import AuditEvent
from specs import selectors
from specs.models import ClauseAlias
from tests.spec_facts import NEWEST, OLDEST, OLDEST_TO_NEWEST

pytestmark = pytest.mark.django_db

WS = "policy-team"
PAIR = {"from": OLDEST.label, "to": NEWEST.label}
MARKUP = ("**", "!!! meta", "[^", "](#", "{#", "\\frac")


class _Text(HTMLParser):
    """The text inside elements with a given class (and the ids of <details> changes)."""

    def __init__(self, css_class: str) -> None:
        super().__init__()
        self.css_class = css_class
        self.depth = 0
        self.chunks: list[str] = []
        self.details: list[dict[str, str]] = []
        self.jump_links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "details" and "clause-change" in values.get("class", ""):
            self.details.append(values)
        if tag == "a" and values.get("href", "").startswith("#change-"):
            self.jump_links.append(values["href"][1:])
        if self.depth:
            self.depth += 1
        elif self.css_class in values.get("class", "").split():
            self.depth = 1

    def handle_endtag(self, tag: str) -> None:
        if self.depth:
            self.depth -= 1
            if not self.depth:
                self.chunks.append("\n")

    def handle_data(self, data: str) -> None:
        if self.depth:
            self.chunks.append(data)


def parsed(html: str, css_class: str = "diff-body") -> _Text:
    parser = _Text(css_class)
    parser.feed(html)
    return parser


def diff_page(client, **params: str) -> str:  # type: ignore[no-untyped-def]
    url = reverse("specs:version-diff", args=[WS, "model-spec"])
    response = client.get(url, {**PAIR, **params})
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def two_versions(load_version) -> None:  # type: ignore[no-untyped-def]
    load_version(OLDEST.label)
    load_version(NEWEST.label)


def test_the_diff_shows_the_text_as_read_not_the_markdown_source(two_versions, personas) -> None:
    html = diff_page(personas.client_for(personas.viewer))
    text = "".join(parsed(html).chunks)
    assert len(text) > 10_000  # the bodies of the 51 changed clauses are all there
    assert not [marker for marker in MARKUP if marker in text]
    assert "Commentary: " in text  # an admonition reads as the page labels it


def test_the_diff_engine_compares_the_text_as_read(load_version) -> None:
    diff = selectors.version_diff(load_version(OLDEST.label), load_version(NEWEST.label))
    segments = [text for change in diff.clauses for _, text in change.body_diff or ()]
    assert segments
    assert not [marker for marker in MARKUP if any(marker in text for text in segments)]
    assert diff.summary.changed == OLDEST_TO_NEWEST.changed


def test_the_summary_of_counts_appears_once(two_versions, personas) -> None:
    html = diff_page(personas.client_for(personas.viewer))
    assert html.count('data-testid="count-added"') == 1
    # Every place that shows "14 added" / "Added 14", in any order or case, in the page's text.
    visible = " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", html)).split())
    added = OLDEST_TO_NEWEST.added
    shown = re.findall(rf"(?i)\b{added}\s+added\b|\badded\s+{added}\b", visible)
    assert len(shown) == 1, shown
    assert "diff-chart" not in html  # no second summary as a chart


def test_a_jump_list_links_every_change_and_each_change_folds(two_versions, personas) -> None:
    html = diff_page(personas.client_for(personas.viewer))
    page = parsed(html)
    ids = [details["id"] for details in page.details]
    facts = OLDEST_TO_NEWEST
    assert len(ids) >= facts.added + len(facts.removed_keys) + facts.changed
    assert page.jump_links == ids  # one link per change, in document order
    # A large diff starts folded: one line per change until the reader opens it.
    assert not [details for details in page.details if "open" in details]
    assert f'data-testid="count-removed">{len(facts.removed_keys)}<' in html


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("added", OLDEST_TO_NEWEST.added),
        ("removed", len(OLDEST_TO_NEWEST.removed_keys)),
        ("changed", OLDEST_TO_NEWEST.changed),
    ],
)
def test_a_kind_filter_lists_only_that_kind(two_versions, personas, kind, expected) -> None:
    html = diff_page(personas.client_for(personas.viewer), kind=kind)
    page = parsed(html)
    assert len(page.details) == expected
    assert all(kind in details["data-kinds"].split() for details in page.details)
    assert len(page.jump_links) == expected
    assert f'aria-current="true"><span class="label">{kind.title()}</span>' in html


def test_a_small_filtered_list_starts_open_and_an_unknown_kind_shows_everything(
    two_versions, personas
) -> None:
    client = personas.client_for(personas.viewer)
    removed = parsed(diff_page(client, kind="removed")).details
    assert all("open" in details for details in removed)  # five changes: open at once
    everything = parsed(diff_page(client, kind="bogus")).details
    assert len(everything) > len(removed)


def test_confirming_a_rename_with_htmx_answers_with_the_updated_counts(
    two_versions, personas
) -> None:
    client = personas.client_for(personas.editor)
    old_key, new_key = OLDEST_TO_NEWEST.probable_rename
    before = diff_page(client)
    assert 'data-testid="count-renamed">0<' in before
    response = client.post(
        reverse("specs:alias-decide", args=[WS, "model-spec"]),
        {
            "old_key": old_key,
            "new_key": new_key,
            "decision": "confirm",
            "similarity": "0.8",
            **PAIR,
        },
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<tr class="decided">')
    assert "Rename confirmed" in html
    assert f"#{old_key} → #{new_key} is now one renamed clause" in html
    # The counts and the list of changes come along, swapped in out of band.
    assert '<nav id="diff-nav"' in html
    assert 'hx-swap-oob="true"' in html
    facts = OLDEST_TO_NEWEST
    assert 'data-testid="count-renamed">1<' in html
    assert f'data-testid="count-removed">{len(facts.removed_keys) - 1}<' in html
    assert f'data-testid="count-added">{facts.added - 1}<' in html
    assert f'id="change-{new_key}"' in html
    assert f"renamed from <code>#{old_key}</code>" in html
    assert ClauseAlias.objects.filter(old_key=old_key, status="confirmed").exists()
    assert AuditEvent.objects.filter(verb="clause_alias.confirm").count() == 1


def test_a_refused_decision_says_why_in_the_row(two_versions, personas) -> None:
    response = personas.client_for(personas.editor).post(
        reverse("specs:alias-decide", args=[WS, "model-spec"]),
        {"old_key": "be_kind", "new_key": "no_such_clause", "decision": "confirm", **PAIR},
        headers={"HX-Request": "true"},
    )
    html = response.content.decode()
    assert "Both keys must exist in some version of this spec." in html
    assert "hx-swap-oob" not in html
    assert not ClauseAlias.objects.exists()


def test_without_javascript_a_decision_goes_back_to_the_same_diff_with_a_message(
    two_versions, personas
) -> None:
    client = personas.client_for(personas.editor)
    old_key, new_key = OLDEST_TO_NEWEST.probable_rename
    response = client.post(
        reverse("specs:alias-decide", args=[WS, "model-spec"]),
        {"old_key": old_key, "new_key": new_key, "decision": "reject", **PAIR, "kind": "removed"},
    )
    assert response.status_code == 302
    assert response["Location"].endswith(
        f"/diff/?from={OLDEST.label}&to={NEWEST.label}&kind=removed"
    )
    html = client.get(response["Location"]).content.decode()
    assert f"Not a rename: #{old_key} and #{new_key} will not be proposed again." in html
    assert "Probable renames" not in html
