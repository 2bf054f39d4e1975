"""HTML views for feeding review results back into the spec: promoting a gold case to a clause
example, the clause page's history panel (agreement across versions, items whose clause changed)
and queueing those items for re-review.

Access: ``workspace_member`` resolves the workspace (404 for non-members) and the right
(``amendments.propose`` to promote, ``campaigns.read`` for the panel, ``campaigns.create`` to
queue a re-review: 403 without it); decisions and versions are found inside the member's
workspace only (404 otherwise). The services check the rights again.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from clausebook import permissions
from clausebook.access import workspace_member
from reviews import access
from reviews.models import GoldDecision
from reviews.selectors import clause_history as history
from reviews.services import promotion as services
from specs.access import version_for
from specs.models import Amendment, SpecVersion, VersionStatus


def _errors_text(error: ValidationError) -> str:
    if hasattr(error, "error_dict"):
        return " ".join(" ".join(msgs) for msgs in error.message_dict.values())
    return " ".join(error.messages)


def amendment_url(workspace_slug: str, amendment: Amendment) -> str | None:
    """The amendment's page in the specs app, or None while specs serves no such page."""
    for args in (
        [workspace_slug, amendment.spec.slug, amendment.pk],
        [workspace_slug, amendment.pk],
    ):
        try:
            return reverse("specs:amendment-detail", args=args)
        except NoReverseMatch:
            continue
    return None


def _chosen_version(request: HttpRequest, decision: GoldDecision) -> SpecVersion | None:
    raw = (request.POST or request.GET).get("version", "").strip()
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise ValidationError({"version": [f"'{raw[:40]}' is not a version id."]})
    version = (
        SpecVersion.objects.select_related("spec")
        .filter(pk=int(raw), spec_id=decision.spec_version.spec_id)
        .first()
    )
    if version is None:
        raise ValidationError({"version": ["No such version of this spec."]})
    return version


@require_http_methods(["GET", "HEAD", "POST"])
@workspace_member(permission=services.PROPOSE_PERMISSION)
def gold_promote(request: HttpRequest, decision_id: int) -> HttpResponse:
    """GET: confirm which version's clause the example goes to. POST: promote, then show the
    amendment (or the gold list while specs has no amendment page)."""
    decision = access.decision_in_workspace(request.workspace.pk, decision_id)
    problem = ""
    target = clause_key = None
    try:
        target = services.promotion_target_version(decision, _chosen_version(request, decision))
        clause_key = services.promotion_clause_key(decision, target)
    except ValidationError as error:
        problem = _errors_text(error)
    if request.method == "POST" and not problem:
        try:
            promotion = services.gold_promote(decision=decision, actor=request.user, version=target)
        except ValidationError as error:
            problem = _errors_text(error)
        else:
            amendment = promotion.change.amendment
            messages.success(
                request, f"Added as an example of {clause_key} in amendment #{amendment.pk}."
            )
            url = amendment_url(request.workspace.slug, amendment)
            return redirect(url or reverse("reviews:gold-list", args=[request.workspace.slug]))
    context = {
        "decision": decision,
        "target": target,
        "clause_key": clause_key,
        "grade": services.verdict_grade(decision.campaign, decision.verdict),
        "versions": SpecVersion.objects.filter(
            spec_id=decision.spec_version.spec_id, status=VersionStatus.PUBLISHED
        ).order_by("-published_at", "-pk"),
        "problem": problem,
        "as_proposal": not permissions.can(request.membership, services.PROMOTE_PERMISSION),
    }
    status = 400 if problem and request.method == "POST" else 200
    return render(request, "reviews/promotion/confirm.html", context, status=status)


@require_safe
@workspace_member(permission="campaigns.read")
def clause_history_panel(request: HttpRequest, spec: str, label: str, key: str) -> HttpResponse:
    """The clause page's panel: agreement per campaign grouped by version, and what changed."""
    version = version_for(request.workspace, spec, label)
    context = {
        "version": version,
        "key": key,
        "groups": history.clause_agreement_history(version, key),
        "changed": history.changed_since(version, key),
        "can_queue": permissions.can(request.membership, "campaigns.create")
        and version.status == VersionStatus.PUBLISHED,
    }
    return render(request, "reviews/promotion/clause_panel.html", context)


@require_POST
@workspace_member(permission="campaigns.create")
def clause_rereview_create(request: HttpRequest, spec: str, label: str, key: str) -> HttpResponse:
    """Queue the items labeled against an earlier form of this clause in a new draft campaign."""
    version = version_for(request.workspace, spec, label)
    try:
        campaign = services.rereview_campaign_create(
            version=version, clause_key=key, actor=request.user
        )
    except ValidationError as error:
        return HttpResponse(_errors_text(error), status=400, content_type="text/plain")
    messages.success(request, f"Queued {campaign.item_count} items for re-review.")
    return redirect("reviews:campaign-detail", request.workspace.slug, campaign.pk)
