"""Presentation of adjudication: the queue's and the item page's template context, and the API's
shapes of a decision, a label and a pair (what a 409 carries too). No access checks here
(``reviews.access`` did them) and no query beyond rendering the clause cards' cross-reference
URLs (none).
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils.safestring import SafeString

from clausebook.rendering import render_markdown
from reviews.models import GoldDecision, Label, LabelSource, OutcomeState
from reviews.presenters import label_author, scale_label
from reviews.selectors.adjudication import AdjudicationItem, AdjudicationPair
from reviews.services.gold import LABELED_REFUSAL
from specs.rendering import render_clause_body, render_examples

STATE_BADGES = {
    OutcomeState.OPEN: "badge-neutral",
    OutcomeState.AGREED: "badge-good",
    OutcomeState.DISPUTED: "badge-bad",
    OutcomeState.ADJUDICATED: "badge-published",
}


def decision_output(decision: GoldDecision | None) -> dict[str, Any] | None:
    """A decision as the API shows it (its adjudicator and agreeing reviewers prefetched)."""
    if decision is None:
        return None
    return {
        "id": decision.pk,
        "kind": decision.kind,
        "verdict": decision.verdict,
        "severity": decision.severity,
        "rationale": decision.rationale,
        "decided_by": decision.decided_by.email if decision.decided_by is not None else None,
        "agreeing_reviewers": sorted(user.email for user in decision.agreeing_reviewers.all()),
        "rule": decision.rule,
        "decided_at": decision.decided_at.isoformat(),
        "supersedes": decision.supersedes_id,
        "is_current": decision.is_current,
    }


def label_output(label: Label) -> dict[str, Any]:
    """A label as adjudication shows it: whose (a reviewer's or a model judge's), and all of it."""
    judge = label.judge_run if label.source == LabelSource.JUDGE else None
    return {
        "id": label.pk,
        "source": label.source,
        "author": label_author(label),
        "reviewer": label.reviewer.email if label.reviewer is not None else None,
        "judge": (
            {
                "id": judge.pk,
                "endpoint": judge.endpoint.name,
                "model": judge.endpoint.model,
                "prompt_version": judge.prompt_version,
            }
            if judge is not None
            else None
        ),
        "verdict": label.verdict,
        "severity": label.severity,
        "rationale": label.rationale,
        "spans": label.spans,
        "status": label.status,
        "submitted_at": label.submitted_at.isoformat() if label.submitted_at else None,
    }


def pair_output(pair: AdjudicationPair) -> dict[str, Any]:
    clause = pair.clause
    return {
        "clause": clause.pk,
        "clause_key": clause.key,
        "clause_title": clause.title,
        "clause_body": clause.body,
        "examples": [
            {"id": example.pk, "title": example.title, "turns": example.turns}
            for example in pair.examples
        ],
        "state": pair.state,
        "verdict_count": pair.verdict_count,
        "top_verdict": pair.top_verdict,
        "needs_decision": pair.needs_decision,
        "labels": [label_output(label) for label in pair.labels],
        "current_decision": decision_output(pair.current),
        "history": [decision_output(decision) for decision in pair.history],
    }


def item_output(view: AdjudicationItem) -> dict[str, Any]:
    """An item's adjudication view as the API answers it."""
    campaign, item = view.campaign, view.item
    return {
        "campaign": campaign.pk,
        "item": {
            "id": item.pk,
            "position": item.position,
            "state": item.state,
            "transcript": item.transcript_id,
            "external_id": item.transcript.external_id,
            "messages": item.transcript.messages,
        },
        "verdict_scale": campaign.verdict_scale,
        "severity_scale": campaign.severity_scale,
        "gold_from_agreement": campaign.gold_from_agreement,
        "may_decide": not view.labeled_by_me,
        "refusal": LABELED_REFUSAL if view.labeled_by_me else "",
        "labels_hidden": view.labels_hidden,
        "pairs": [pair_output(pair) for pair in view.pairs],
    }


def conflict_output(
    *, clause_id: int, clause_key: str, state: str, current: GoldDecision | None
) -> dict[str, Any]:
    """What a 409 carries: the pair as it is now (its state and current decision), so the client
    can show what the other adjudicator decided and send its decision's id to go on."""
    return {
        "clause": clause_id,
        "clause_key": clause_key,
        "state": state,
        "current_decision": decision_output(current),
    }


def queue_row(outcome: Any, workspace_slug: str, *, verdict_scale: list[dict[str, str]]) -> dict:
    """One pair of the queue as the page shows it (the API serializes the outcome itself and
    keeps the stored values): ``top_verdict_label`` is the leading verdict in the scale's words."""
    return {
        "item": outcome.item_id,
        "position": outcome.item.position,
        "external_id": outcome.item.transcript.external_id,
        "clause": outcome.clause_id,
        "clause_key": outcome.clause.key,
        "state": outcome.state,
        "verdict_count": outcome.verdict_count,
        "top_verdict": outcome.top_verdict,
        "top_verdict_label": scale_label(verdict_scale, outcome.top_verdict)
        if outcome.top_verdict
        else "",
        "changed_at": outcome.changed_at,
        "url": reverse(
            "reviews:adjudication-item",
            args=(workspace_slug, outcome.campaign_id, outcome.item_id),
        )
        + f"#pair-{outcome.clause.key}",
    }


# --------------------------------------------------------------------------------------------------
# The item page
# --------------------------------------------------------------------------------------------------


def _clause_html(pair: AdjudicationPair, titles: dict[str, str], clause_url: Any) -> dict:
    return {
        "body": render_clause_body(pair.clause.body, titles=titles, clause_url=clause_url),
        "examples": render_examples(pair.examples, titles=titles, clause_url=clause_url),
    }


def item_context(
    view: AdjudicationItem,
    workspace_slug: str,
    *,
    next_url: str,
    typed: dict[int, dict[str, str]] | None = None,
    conflict: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Template context for an item's adjudication page. ``typed``: what the adjudicator sent
    for a clause (shown again after a refusal); ``conflict``: a 409's pair, shown on its card."""
    campaign, item = view.campaign, view.item
    # The clauses came with their version and spec (one query): no lookup for the URLs.
    version = view.pairs[0].clause.version if view.pairs else None
    titles = {pair.clause.key: pair.clause.title for pair in view.pairs}
    spec_slug = version.spec.slug if version is not None else ""
    label = version.label if version is not None else ""

    def clause_url(key: str) -> str:
        return reverse("specs:clause-detail", args=(workspace_slug, spec_slug, label, key))

    typed = typed or {}
    scale = campaign.verdict_scale
    cards = []
    for pair in view.pairs:
        sent = typed.get(pair.clause.pk, {})
        current = pair.current
        cards.append(
            {
                "pair": pair,
                "key": pair.clause.key,
                "clause_id": pair.clause.pk,
                "state_badge": STATE_BADGES.get(pair.state, "badge-neutral"),
                "state_label": OutcomeState(pair.state).label,
                "top_verdict_label": scale_label(scale, pair.top_verdict)
                if pair.top_verdict
                else "",
                "clause_html": _clause_html(pair, titles, clause_url),
                "labels": [
                    {
                        "author": label_author(label_),
                        "model": label_.source == LabelSource.JUDGE,
                        "verdict": scale_label(scale, label_.verdict),
                        "severity": label_.severity,
                        "rationale": label_.rationale,
                        "spans": [
                            {"message": span.get("message_index", 0) + 1, "text": span.get("text")}
                            for span in label_.spans
                        ],
                    }
                    for label_ in pair.labels
                ],
                "current": current,
                "current_verdict": scale_label(scale, current.verdict) if current else "",
                "history": [
                    {"decision": decision, "verdict": scale_label(scale, decision.verdict)}
                    for decision in pair.history
                ],
                "expected": current.pk if current is not None else "",
                "chosen_verdict": sent.get("verdict", current.verdict if pair.gold else ""),
                "chosen_severity": sent.get("severity", current.severity if pair.gold else ""),
                "rationale": sent.get("rationale", ""),
                "reason": sent.get("reason", ""),
                "sent": bool(sent),
                "conflict": conflict if conflict and conflict["clause"] == pair.clause.pk else None,
            }
        )
    needing = [card for card in cards if card["pair"].needs_decision]
    return {
        "campaign": campaign,
        "item": item,
        "view": view,
        "position": item.position + 1,
        "messages_list": [
            {
                "index": index,
                "role": message.get("role", ""),
                "name": message.get("name", ""),
                "html": _message_html(message),
            }
            for index, message in enumerate(item.transcript.messages)
        ],
        "cards": cards,
        "needing_count": len(needing),
        "may_decide": not view.labeled_by_me,
        "refusal": LABELED_REFUSAL if view.labeled_by_me else "",
        "next_url": next_url,
        "queue_url": reverse("reviews:adjudication-queue", args=(workspace_slug, campaign.pk)),
        "page_data": {
            "nextUrl": next_url,
            "verdicts": len(scale),
            "mayDecide": not view.labeled_by_me,
        },
    }


def _message_html(message: dict[str, Any]) -> SafeString:
    return render_markdown(str(message.get("content") or ""))
