"""Presentation of the labeling page: context building and the HTML fragments its hottest loops
need. No access checks here (the views do them) and at most one query."""

from __future__ import annotations

from functools import cache, lru_cache
from html import escape
from typing import Any

from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe

from clausebook.rendering import render_markdown
from reviews.forms import SkipForm
from reviews.models import Campaign
from reviews.selectors import campaigns as selectors
from reviews.selectors import labels as label_selectors
from reviews.services.labels import label_state
from specs.rendering import render_clause_body, render_examples


@lru_cache(maxsize=4096)
def _message_html(content: str) -> SafeString:
    # Transcripts never change once imported; caching by text keeps long pages fast.
    return render_markdown(content)


# Published versions are immutable (database triggers), and a campaign's scope never changes, so
# the static part of a clause card (title, body, examples) within one campaign can be rendered
# once and kept for the life of the process.
_CLAUSE_CACHE: dict[tuple[int, int, int], SafeString] = {}


def _clause_static(
    campaign: Campaign,
    number: int,
    clause: Any,
    titles: dict[str, str],
    examples_of: dict[int, list[Any]],
) -> SafeString:
    key = (campaign.pk, clause.pk, number)
    cached = _CLAUSE_CACHE.get(key)
    if cached is None:

        def anchor(target: str) -> str:
            return f"#clause-{target}"

        body = render_clause_body(clause.body, titles=titles, clause_url=anchor)
        examples = render_examples(examples_of.get(clause.pk, []), titles=titles, clause_url=anchor)
        html = render_to_string(
            "reviews/labeling/_clause_static.html",
            {"clause": clause, "number": number, "body": body, "examples": examples},
        )
        if len(_CLAUSE_CACHE) > 20_000:
            _CLAUSE_CACHE.clear()
        cached = _CLAUSE_CACHE[key] = mark_safe(html)  # noqa: S308 - an autoescaped template
    return cached


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


def labeling_context(page: selectors.LabelingPage, workspace_slug: str) -> dict[str, Any]:
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
        if (campaign.pk, cc.clause_id, number) not in _CLAUSE_CACHE
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
                "others": page.others.get(cc.clause_id, []),
            }
        )
    ws, base = workspace_slug, (campaign.pk, item.pk)
    data = {
        "saveUrl": reverse("reviews:label-save", args=(ws, *base)),
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
