"""The campaign's agreement dashboard (HTML): per-clause alpha with intervals, the reviewer ×
reviewer kappa heat map, reviewer stats, first submissions beside final labels, judges apart.

Access as the campaign page: ``campaigns.read``; another workspace's campaign is 404. The
figures come from the cached report (``reviews.selectors.agreement``) that the API serves.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET

from clausebook.access import workspace_member
from reviews import charts
from reviews.selectors import campaigns as campaign_selectors
from reviews.selectors.agreement import campaign_agreement


@workspace_member(permission="campaigns.read")
@require_GET
def campaign_agreement_page(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = campaign_selectors.get_campaign(request.workspace, campaign_id)
    report = campaign_agreement(campaign)
    return render(
        request,
        "reviews/agreement/dashboard.html",
        {"campaign": campaign, "report": report, **_charts(report)},
    )


def _bars(report: dict[str, Any], version: str) -> str:
    bars = []
    for clause in report["clauses"]:
        alpha = clause[version]["alpha_nominal"]
        bars.append(
            charts.Bar(
                label=clause["key"],
                value=alpha["value"],
                low=alpha.get("ci_low"),
                high=alpha.get("ci_high"),
                note=f"n={alpha['n_items']}",
            )
        )
    label = "final labels" if version == "final" else "first submissions"
    return charts.interval_bars(
        bars, title=f"Krippendorff's alpha per clause ({label}), lowest first, 95% intervals"
    )


def _heat_map(report: dict[str, Any], version: str) -> str:
    names = {row["id"]: row["name"] for row in report["reviewers"]}
    ids = report["pairwise"]["reviewer_ids"]
    table = report["pairwise"][version]
    values = [[cell["value"] if cell else None for cell in row] for row in table]
    notes = [[f"{cell['n_items']} shared" if cell else "" for cell in row] for row in table]
    return charts.heat_map(
        [names.get(pk, str(pk)) for pk in ids],
        values,
        notes,
        title="Cohen's kappa between each pair of reviewers, over the items both labeled",
    )


def _charts(report: dict[str, Any]) -> dict[str, Any]:
    # charts.py escapes every text it writes, so its SVG may be marked safe.
    return {
        "alpha_chart": mark_safe(_bars(report, "final")),  # noqa: S308
        "alpha_chart_first": mark_safe(_bars(report, "first")),  # noqa: S308
        "kappa_map": mark_safe(_heat_map(report, "final")),  # noqa: S308
        "kappa_map_first": mark_safe(_heat_map(report, "first")),  # noqa: S308
    }
