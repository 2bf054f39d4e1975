"""Model judge pages: start a judge run on a campaign (the number of calls shown first), watch
it run (an htmx-polled progress region), and the per-clause trust table (the judge against
gold and against each human, with the prompt version).

Access: ``judges.run`` (adjudicators and up); another workspace's campaign, endpoint or run is
404. A run can be cancelled from its page while it is queued or running; a broker that is down
when a run is started answers 503 with the reason. The figures come from the campaign's cached agreement report.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from clausebook.access import workspace_member
from clausebook.queueing import QueueUnavailable
from reviews.models.runs import JudgeMode
from reviews.selectors import campaigns as campaign_selectors
from reviews.services import endpoints as endpoint_services
from reviews.services import judges as services


def trust_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The report's judge figures as table rows: one per (judge run, clause)."""
    names = {r["id"]: r["name"] for r in report.get("reviewers", [])}
    rows = []
    for judge in report.get("judges", []):
        for clause in judge.get("clauses", []):
            rows.append(
                {
                    "run": judge,
                    "clause": clause,
                    "with_gold": clause["with_gold"],
                    "with_reviewers": [
                        {**figure, "name": names.get(figure["reviewer_id"], "a reviewer")}
                        for figure in clause["with_reviewers"]
                    ],
                }
            )
    return rows


@workspace_member(permission=services.PERMISSION)
@require_http_methods(["GET", "HEAD", "POST"])
def judge_start(request: HttpRequest, campaign_id: int) -> HttpResponse:
    from reviews.selectors.agreement import campaign_agreement  # numpy: only for this page

    campaign = campaign_selectors.get_campaign(request.workspace, campaign_id)
    errors: list[str] = []
    status = 400
    if request.method == "POST":
        try:
            endpoint = endpoint_services.endpoint_in_workspace(
                request.workspace, _int(request.POST.get("endpoint"), "endpoint")
            )
            run, _calls = services.judge_run_create(
                campaign=campaign,
                endpoint=endpoint,
                actor=request.user,
                mode=request.POST.get("mode") or JudgeMode.PER_PAIR,
            )
            return redirect("reviews:judge-run-detail", request.workspace.slug, run.pk)
        except ValidationError as error:
            errors = error.messages
        except QueueUnavailable as error:
            errors = [str(error.detail)]
            status = 503
    context = {
        "campaign": campaign,
        "endpoints": endpoint_services.endpoints_in_workspace(request.workspace),
        "modes": [
            {
                "value": mode.value,
                "label": mode.label,
                "calls": services.judge_call_count(campaign, mode),
            }
            for mode in JudgeMode
        ],
        "runs": services.judge_runs_of(campaign),
        "trust": trust_rows(campaign_agreement(campaign)),
        "errors": errors,
    }
    return render(request, "reviews/judges/start.html", context, status=status if errors else 200)


def _int(value: str | None, field: str) -> int:
    try:
        return int(value or "")
    except ValueError:
        raise ValidationError({field: f"Choose an {field}."}) from None


@require_safe
@workspace_member(permission=services.PERMISSION)
def judge_run_detail(request: HttpRequest, judge_run_id: int) -> HttpResponse:
    run = services.judge_run_in_workspace(request.workspace.pk, judge_run_id)
    template = "reviews/judges/run.html"
    if request.htmx:
        # The progress region polls itself; authorized above, like the page.
        template += "#progress"
    return render(request, template, _run_context(run))


@require_POST
@workspace_member(permission=services.PERMISSION)
def judge_run_cancel(request: HttpRequest, judge_run_id: int) -> HttpResponse:
    run = services.judge_run_in_workspace(request.workspace.pk, judge_run_id)
    if services.judge_run_cancel(run=run, actor=request.user):
        messages.success(request, f"Cancelled judge run #{run.pk}; calls in flight finish.")
        return redirect("reviews:judge-run-detail", request.workspace.slug, run.pk)
    # Nothing to cancel: say so on the run's page, with the status a client can tell apart.
    messages.info(request, f"Judge run #{run.pk} had already finished; nothing was cancelled.")
    return render(request, "reviews/judges/run.html", _run_context(run), status=409)


def _run_context(run: Any) -> dict[str, Any]:
    percent = int(100 * run.calls_done / run.calls_total) if run.calls_total else 100
    return {
        "run": run,
        "percent": min(percent, 100),
        "active": run.status in ("queued", "running"),
    }
