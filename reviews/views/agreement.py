"""The campaign's agreement dashboard (HTML): per-clause alpha with intervals, the reviewer ×
reviewer kappa heat map, reviewer stats, first submissions beside final labels, judges apart.

Access as the campaign page: ``campaigns.read``; another workspace's campaign is 404. The
figures come from the cached report (``reviews.selectors.agreement``) that the API serves; the
charts and table rows from ``reviews.agreement_presenters``.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from clausebook.access import workspace_member
from reviews.agreement_presenters import agreement_dashboard
from reviews.selectors import campaigns as campaign_selectors


@workspace_member(permission="campaigns.read")
@require_GET
def campaign_agreement_page(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = campaign_selectors.get_campaign(request.workspace, campaign_id)
    from reviews.selectors.agreement import campaign_agreement  # numpy: only for this page

    report = campaign_agreement(campaign)
    return render(
        request,
        "reviews/agreement/dashboard.html",
        {"campaign": campaign, **agreement_dashboard(report)},
    )
