"""Presentation of labels: the labeling page's context and the HTML fragments its hottest loops
need, and the client-facing state of a label (what the page holds, what a save answers, what a
409 carries). No access checks here (``reviews.access`` did them) and at most one query.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from html import escape
from typing import Any

from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe

from clausebook.caching import bounded_cache
from clausebook.rendering import render_markdown
from reviews.forms import SkipForm
from reviews.models import Campaign, Label, LabelSource
from reviews.selectors import labels as label_selectors
from specs.rendering import render_clause_body, render_examples

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


def conflict_state(conflicts: Sequence[tuple[int, Label | None]]) -> list[dict[str, Any]]:
    """What a 409 on a save carries: each stale clause with its label as it is now (or null)."""
    return [{"clause": clause_id, "label": label_state(label)} for clause_id, label in conflicts]


def label_author(label: Label) -> str:
    """Who gave a label, as the page shows it: a reviewer's short name, or the model judge
    (endpoint and prompt version), so a model's verdict is never mistaken for a person's."""
    if label.source == LabelSource.JUDGE and label.judge_run is not None:
        run = label.judge_run
        return f"model: {run.endpoint.name} ({run.prompt_version})"
    return label.reviewer.short_name if label.reviewer is not None else ""


def _message_html(content: str) -> SafeString:
    return _MESSAGE_HTML.get_or_set(content, lambda: render_markdown(content))


def _clause_static(
    campaign: Campaign,
    number: int,
    clause: Any,
    titles: dict[str, str],
    examples_of: dict[int, list[Any]],
) -> SafeString:
    def render() -> SafeString:
        def anchor(target: str) -> str:
            return f"#clause-{target}"

        body = render_clause_body(clause.body, titles=titles, clause_url=anchor)
        examples = render_examples(examples_of.get(clause.pk, []), titles=titles, clause_url=anchor)
        html = render_to_string(
            "reviews/labeling/_clause_static.html",
            {"clause": clause, "number": number, "body": body, "examples": examples},
        )
        return mark_safe(html)  # noqa: S308 - an autoescaped template

    return _CLAUSE_STATIC.get_or_set((campaign.pk, clause.pk, number), render)


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


def labeling_context(page: label_selectors.LabelingPage, workspace_slug: str) -> dict[str, Any]:
    """Template context for the labeling page. Runs at most one query (examples of clause cards
    not rendered yet); everything else comes from ``page``."""
    campaign, item = page.campaign, page.item
    titles = {cc.clause.key: cc.clause.title for cc in page.clauses}
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
    # Examples are read (in one query) only for clauses whose card is not cached yet.
    missing = [
        cc.clause_id
        for number, cc in enumerate(page.clauses, start=1)
        if (campaign.pk, cc.clause_id, number) not in _CLAUSE_STATIC
    ]
    examples_of = label_selectors.examples_by_clause(missing) if missing else {}

    # The severity menu differs between cards only by the chosen value: build each variant once.
    @cache
    def severity_html(current: str) -> SafeString:
        return _choice_html(campaign.severity_scale, "severity", current, radio=False)

    cards = []
    for number, cc in enumerate(page.clauses, start=1):
        label = page.labels.get(cc.clause_id)
        clause = cc.clause
        cards.append(
            {
                "number": number,
                # Flat values: each dotted lookup in the 80-card loop costs the template engine.
                "key": clause.key,
                "clause_id": clause.pk,
                "search": f"{clause.key.lower()} {clause.title.lower()}",
                "clause": clause,
                "static": _clause_static(campaign, number, clause, titles, examples_of),
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
    data = {
        # The page saves through the API's one label contract (see reviews.api.labels).
        "saveUrl": reverse("api-item-labels", args=(ws, campaign.pk, item.pk)),
        "editable": page.editable,
        "verdicts": campaign.verdict_scale,
        "severities": campaign.severity_scale,
        "labels": {str(clause_id): label_state(label) for clause_id, label in page.labels.items()},
    }
    return {
        "campaign": campaign,
        "item": item,
        "page": page,
        "messages_list": messages_,
        "cards": cards,
        "disabled": "" if page.editable else "disabled",
        "label_data": data,
        "skip_form": SkipForm(),
    }
