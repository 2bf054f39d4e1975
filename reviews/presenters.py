"""Presentation of labels: the labeling page's context and the HTML fragments its hottest loops
need, and the client-facing state of a label (what the page holds, what a save answers, what a
409 carries). No access checks here (``reviews.access`` did them) and at most one query.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from html import escape
from typing import Any

from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe

from clausebook.caching import bounded_cache
from clausebook.rendering import render_markdown
from reviews.forms import SkipForm
from reviews.models import Campaign, GoldDecision, Item, Label, LabelSource
from reviews.selectors import disputes as dispute_selectors
from reviews.selectors import labels as label_selectors
from specs.models import Clause
from specs.rendering import render_clause_body, render_examples

#: The verdict "mark the rest not applicable" gives, where the campaign's scale has it.
NOT_APPLICABLE = "not_applicable"

# Transcripts never change once imported, so a message's HTML is a pure function of its text;
# caching it keeps long pages fast.
_MESSAGE_HTML = bounded_cache("reviews.presenters.message_html", maxsize=4096)
# Published versions are immutable (database triggers) and a campaign's scope never changes, so
# the static part of a clause card (title, body, examples) within one campaign is rendered once.
_CLAUSE_STATIC = bounded_cache("reviews.presenters.clause_static", maxsize=20_000)


def label_state(label: Label | None) -> dict[str, Any] | None:
    """A label as the labeling page holds it and the label endpoints answer."""
    if label is None:
        return None
    return {
        "id": label.pk,
        "clause": label.clause_id,
        "verdict": label.verdict,
        "severity": label.severity,
        "rationale": label.rationale,
        "spans": label.spans,
        "status": label.status,
        "revision": label.revision,
        "updated_at": label.updated_at.isoformat(),
    }


def label_output(
    label: Label | None, *, clause_key: str, item: Item, reviewer: str | None
) -> dict[str, Any] | None:
    """A label as the save endpoint answers it: its state plus every id and key a script needs
    to go on from it (clause id and key, item, transcript, campaign, reviewer), so a client
    never has to look one up elsewhere."""
    state = label_state(label)
    if state is None:
        return None
    return state | {
        "clause_key": clause_key,
        "item": item.pk,
        "transcript": item.transcript_id,
        "campaign": item.campaign_id,
        "source": label.source,
        "reviewer": reviewer,
    }


def conflict_state(
    conflicts: Sequence[tuple[int, Label | None]],
    *,
    keys: dict[int, str],
    item: Item,
    reviewer: str | None,
) -> list[dict[str, Any]]:
    """What a 409 on a save carries: each stale clause (id and key) with its label as it is now
    (or null)."""
    return [
        {
            "clause": clause_id,
            "clause_key": keys.get(clause_id, ""),
            "label": label_output(
                label, clause_key=keys.get(clause_id, ""), item=item, reviewer=reviewer
            ),
        }
        for clause_id, label in conflicts
    ]


def label_author(label: Label) -> str:
    """Who gave a label, as the page shows it: a reviewer's short name, or the model judge
    (endpoint and prompt version), so a model's verdict is never mistaken for a person's."""
    if label.source == LabelSource.JUDGE and label.judge_run is not None:
        run = label.judge_run
        return f"model: {run.endpoint.name} ({run.prompt_version})"
    return label.reviewer.short_name if label.reviewer is not None else ""


def scale_label(scale: list[dict[str, str]], value: str) -> str:
    """The words a campaign's scale gives a stored value (a verdict or a severity), or the value
    itself when the scale no longer has it: pages show the words, the API keeps the values."""
    return next((entry["label"] for entry in scale if entry["value"] == value), value)


def _in_words(campaign: Campaign, verdict: str, severity: str) -> dict[str, str]:
    return {
        "verdict": scale_label(campaign.verdict_scale, verdict) if verdict else "",
        "severity": scale_label(campaign.severity_scale, severity) if severity else "",
    }


def decisions_in_words(decisions: Sequence[GoldDecision]) -> list[dict[str, Any]]:
    """Gold decisions with their verdict and severity in the words of each one's campaign (the
    list spans campaigns, so each decision carries its own scale)."""
    return [{"decision": d, **_in_words(d.campaign, d.verdict, d.severity)} for d in decisions]


def labels_in_words(labels: Sequence[Label], campaign: Campaign) -> list[dict[str, Any]]:
    """A thread's labels with their verdict and severity in the campaign's words."""
    return [
        {"label": label, **_in_words(campaign, label.verdict, label.severity)} for label in labels
    ]


def dispute_queue_rows(
    rows: Sequence[dispute_selectors.QueueRow], campaign: Campaign
) -> list[dict[str, Any]]:
    """The disagreement queue's rows as the page shows them: verdicts and the highest severity
    in the campaign's words, verdicts most given first."""
    return [
        {
            "item_id": row.item_id,
            "item_position": row.item_position,
            "external_id": row.external_id,
            "clause_key": row.clause_key,
            "changed_at": row.changed_at,
            "comments": row.comments,
            "severity": scale_label(campaign.severity_scale, row.severity) if row.severity else "",
            "verdicts": [
                {"label": scale_label(campaign.verdict_scale, verdict), "count": count}
                for verdict, count in row.verdicts.items()
            ],
        }
        for row in rows
    ]


def _message_html(content: str) -> SafeString:
    return _MESSAGE_HTML.get_or_set(content, lambda: render_markdown(content))


#: In-document links a clause body may hold: a card's own id, an eval footnote, anything else.
_FRAGMENT_HREF = re.compile(r'href="#([^"]*)"')


def _card_links(html: str, *, clause_key: str, in_scope: set[str], clause_page: str) -> str:
    """Point every in-document link of a card somewhere that exists on this page or in the spec:
    the labeling page has no footnote sections and no cards for clauses out of scope, so a
    ``#...`` link that is not a card of this page goes to the clause's page in the spec (an eval
    footnote to its prompts there). Runs on sanitized HTML whose hrefs we produced."""

    def point(match: re.Match[str]) -> str:
        fragment = match.group(1)
        if fragment.startswith("clause-") and fragment[len("clause-") :] in in_scope:
            return match.group(0)
        if fragment.startswith("eval-prompts-"):
            return f'href="{clause_page}{clause_key}/#{fragment}"'
        return f'href="{clause_page}{clause_key}/"'

    return _FRAGMENT_HREF.sub(point, html)


@dataclass(frozen=True)
class _CardLinks:
    """What the static part of a card needs to link cross-references: every clause title of the
    version, the keys in scope (cards of this page) and the version's clause URL prefix."""

    titles: dict[str, str]
    in_scope: set[str]
    clause_page: str

    def url(self, key: str) -> str:
        # A clause in scope is a card of this page; any other clause, its page in the spec.
        return f"#clause-{key}" if key in self.in_scope else f"{self.clause_page}{key}/"


def _card_links_for(campaign: Campaign, workspace_slug: str, in_scope: set[str]) -> _CardLinks:
    """One query: the version's clause titles (a cross-reference may name any clause of it),
    with the spec slug and version label its URLs need."""
    rows = list(
        Clause.objects.filter(version_id=campaign.spec_version_id).values_list(
            "key", "title", "version__label", "version__spec__slug"
        )
    )
    titles = {key: title for key, title, _, _ in rows}
    label, spec_slug = (rows[0][2], rows[0][3]) if rows else ("", "")
    prefix = reverse(
        "specs:clause-detail", args=[workspace_slug, spec_slug or "x", label or "x", "K"]
    )
    return _CardLinks(titles=titles, in_scope=in_scope, clause_page=prefix[: -len("K/")])


def _clause_static(
    campaign: Campaign,
    number: int,
    clause: Any,
    links: Callable[[], _CardLinks],
    examples_of: dict[int, list[Any]],
    workspace_slug: str,
) -> SafeString:
    def render() -> SafeString:
        card = links()
        body = render_clause_body(clause.body, titles=card.titles, clause_url=card.url)
        examples = render_examples(
            examples_of.get(clause.pk, []), titles=card.titles, clause_url=card.url
        )
        html = render_to_string(
            "reviews/labeling/_clause_static.html",
            {"clause": clause, "number": number, "body": body, "examples": examples},
        )
        html = _card_links(
            html, clause_key=clause.key, in_scope=card.in_scope, clause_page=card.clause_page
        )
        return mark_safe(html)  # noqa: S308 - an autoescaped template, hrefs we produced

    return _CLAUSE_STATIC.get_or_set(
        _static_key(campaign, clause.pk, number, workspace_slug), render
    )


def _static_key(campaign: Campaign, clause_id: int, number: int, workspace_slug: str) -> tuple:
    # The workspace slug is part of every spec URL in the card.
    return (campaign.pk, clause_id, number, workspace_slug)


def _choice_html(scale: list[dict[str, str]], name: str, current: str, radio: bool) -> SafeString:
    """Verdict chips or severity options, built in Python: 80 cards × a scale is the page's
    hottest loop, and the template engine costs ~10x more per node than this."""
    parts = []
    for number, entry in enumerate(scale, start=1):
        value, label = escape(entry["value"]), escape(entry["label"])
        mark = (" checked" if radio else " selected") if entry["value"] == current else ""
        if radio:
            parts.append(
                f'<label><input type="radio" name="{name}" value="{value}"{mark}>'
                f"<kbd>{number}</kbd> {label}</label>"
            )
        else:
            parts.append(f'<option value="{value}"{mark}>{label}</option>')
    return mark_safe("".join(parts))  # noqa: S308 - every value is escaped above


def labeling_context(
    page: label_selectors.LabelingPage, workspace_slug: str, *, confirm_partial: bool = False
) -> dict[str, Any]:
    """Template context for the labeling page. Runs no query when every clause card is cached,
    else two (the examples of the cards not rendered yet, and the version's clause titles for
    cross-references); everything else comes from ``page``. ``confirm_partial``: the reviewer
    asked to submit with clauses blank and must confirm (the page without script)."""
    campaign, item = page.campaign, page.item
    messages_ = [
        {
            "index": index,
            "role": message.get("role", ""),
            "name": message.get("name", ""),
            "html": _message_html(str(message.get("content") or "")),
            "tool_calls": message.get("tool_calls") or [],
        }
        for index, message in enumerate(item.transcript.messages)
    ]
    # Examples and titles are read (one query each) only for cards not cached yet.
    missing = [
        cc.clause_id
        for number, cc in enumerate(page.clauses, start=1)
        if _static_key(campaign, cc.clause_id, number, workspace_slug) not in _CLAUSE_STATIC
    ]
    examples_of = label_selectors.examples_by_clause(missing) if missing else {}
    in_scope = {cc.clause.key for cc in page.clauses}
    links = cache(lambda: _card_links_for(campaign, workspace_slug, in_scope))

    # The severity menu differs between cards only by the chosen value: build each variant once.
    @cache
    def severity_html(current: str) -> SafeString:
        return _choice_html(campaign.severity_scale, "severity", current, radio=False)

    cards = []
    done = 0
    for number, cc in enumerate(page.clauses, start=1):
        label = page.labels.get(cc.clause_id)
        clause = cc.clause
        if label is not None and label.verdict:
            done += 1
        cards.append(
            {
                "number": number,
                # Flat values: each dotted lookup in the 80-card loop costs the template engine.
                "key": clause.key,
                "clause_id": clause.pk,
                "search": f"{clause.key.lower()} {clause.title.lower()}",
                "clause": clause,
                "static": _clause_static(
                    campaign, number, clause, links, examples_of, workspace_slug
                ),
                "verdict_html": _choice_html(
                    campaign.verdict_scale,
                    f"verdict-{cc.clause_id}",
                    label.verdict if label else "",
                    radio=True,
                ),
                "severity_html": severity_html(label.severity if label else ""),
                "label": label,
                "others": [
                    {
                        "author": label_author(other),
                        "model": other.source == LabelSource.JUDGE,
                        "verdict": other.verdict,
                        "severity": other.severity,
                        "rationale": other.rationale,
                    }
                    for other in page.others.get(cc.clause_id, [])
                ],
            }
        )
    ws = workspace_slug
    not_applicable = next(
        (v["value"] for v in campaign.verdict_scale if v["value"] == NOT_APPLICABLE), ""
    )
    data = {
        # The page saves (and submits) through the API's one label contract (reviews.api.labels).
        "saveUrl": reverse("api-item-labels", args=(ws, campaign.pk, item.pk)),
        "editable": page.editable,
        "inProgress": page.in_progress,
        "requireEveryClause": campaign.require_every_clause,
        "notApplicable": not_applicable,
        "verdicts": campaign.verdict_scale,
        "severities": campaign.severity_scale,
        "labels": {str(clause_id): label_state(label) for clause_id, label in page.labels.items()},
    }
    return {
        "campaign": campaign,
        "item": item,
        "page": page,
        "page_url": reverse("reviews:label-item", args=(ws, campaign.pk, item.pk)),
        "position": item.position + 1,
        "item_total": max(campaign.item_count, item.position + 1),
        "clauses_done": done,
        "clause_total": len(cards),
        "not_applicable_label": next(
            (v["label"] for v in campaign.verdict_scale if v["value"] == NOT_APPLICABLE), ""
        ),
        "confirm_partial": confirm_partial and page.in_progress,
        "messages_list": messages_,
        "cards": cards,
        "disabled": "" if page.editable else "disabled",
        "label_data": data,
        "skip_form": SkipForm(),
    }


def next_item_output(
    page: label_selectors.LabelingPage, workspace_slug: str, *, reviewer: str
) -> dict[str, Any]:
    """The next item as the one-request label-and-next path answers it: everything the labeling
    page needs to show it (the transcript's messages, the clauses in scope, the reviewer's labels
    on it) and its page's URL, so a script or the page goes on without another request."""
    item, campaign, assignment = page.item, page.campaign, page.assignment
    clause_keys = {cc.clause_id: cc.clause.key for cc in page.clauses}
    return {
        "assignment": (
            {"id": assignment.pk, "status": assignment.status} if assignment is not None else None
        ),
        "item": {
            "id": item.pk,
            "position": item.position,
            "state": item.state,
            "campaign": campaign.pk,
            "transcript": item.transcript_id,
            "url": reverse("reviews:label-item", args=(workspace_slug, campaign.pk, item.pk)),
        },
        "transcript": {
            "id": item.transcript_id,
            "external_id": item.transcript.external_id,
            "messages": item.transcript.messages,
        },
        "clauses": [
            {
                "id": cc.clause_id,
                "key": cc.clause.key,
                "title": cc.clause.title,
                "position": cc.position,
            }
            for cc in page.clauses
        ],
        "labels": [
            label_output(
                label, clause_key=clause_keys.get(clause_id, ""), item=item, reviewer=reviewer
            )
            for clause_id, label in page.labels.items()
        ],
    }
