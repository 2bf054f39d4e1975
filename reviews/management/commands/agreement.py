"""``python manage.py agreement CAMPAIGN --workspace SLUG [--json]``: a campaign's agreement report.

``--json`` prints the report the API serves (``reviews.selectors.agreement``), for scripts;
without it, a table per clause (alpha with its interval, Fleiss, AC1, percent agreement, each on
final labels and on first submissions) and one per reviewer.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from clausebook import cli
from reviews.models import Campaign
from reviews.selectors.agreement import campaign_agreement


class Command(BaseCommand):
    help = "Print a campaign's agreement report (inter-rater reliability per clause and reviewer)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("campaign", type=int, help="The campaign's id.")
        cli.add_workspace_arguments(parser)
        parser.add_argument("--json", action="store_true", help="Print the report as JSON.")
        parser.add_argument(
            "--fresh", action="store_true", help="Compute it again instead of reading the cache."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        context = cli.resolve(options)
        campaign = Campaign.objects.filter(
            workspace=context.workspace, pk=options["campaign"]
        ).first()
        if campaign is None:
            raise CommandError(
                f"campaign: no campaign {options['campaign']} in workspace "
                f"{context.workspace.slug!r}"
            )
        report = campaign_agreement(campaign, use_cache=not options["fresh"])
        if options["json"]:
            self.stdout.write(json.dumps(report, indent=2))
            return
        self.stdout.write(render_table(report))


def _number(estimate: dict[str, Any] | None, *, interval: bool = False) -> str:
    if not estimate or estimate.get("value") is None:
        return "—"
    text = f"{estimate['value']:.3f}"
    if interval and estimate.get("ci_low") is not None:
        text += f" [{estimate['ci_low']:.2f}, {estimate['ci_high']:.2f}]"
    return text


def render_table(report: dict[str, Any]) -> str:
    """The report as plain-text tables (what the command prints without ``--json``)."""
    lines = [
        f"Agreement for campaign {report['campaign']['id']}: {report['campaign']['title']}",
        f"{report['counts']['labels']} labels on {report['counts']['items']} items by "
        f"{report['counts']['reviewers']} reviewers; {report['counts']['adjudicated']} "
        f"adjudicated; {report['counts']['revised_labels']} revised after discussion.",
        "Fleiss' kappa: " + report["method"]["fleiss_kappa"] + ".",
        "",
    ]
    header = f"{'clause':<34} {'labels':>7} {'items':>6}  {'alpha (95% CI)':<24} {'fleiss':>7} {'AC1 (95% CI)':<24} {'agree':>6}"
    rows = [("campaign", report["campaign_overall"])] + [
        (clause["key"], clause) for clause in report["clauses"]
    ]
    for version in ("final", "first"):
        title = "Final labels" if version == "final" else "First submissions"
        lines += [title, header, "-" * len(header)]
        for name, block in rows:
            figures = block[version]
            alpha = figures["alpha_nominal"]
            lines.append(
                f"{name[:34]:<34} {alpha['n_labels']:>7} {alpha['n_items']:>6}  "
                f"{_number(alpha, interval=True):<24} {_number(figures['fleiss_kappa']):>7} "
                f"{_number(figures['gwet_ac1'], interval=True):<24} "
                f"{_number(figures['percent_agreement']):>6}"
            )
        lines.append("")
    lines += [
        f"{'reviewer':<34} {'labels':>7} {'median s':>9} {'kappa v others':>15} {'agree v gold':>13} {'gold n':>7}",
    ]
    for reviewer in report["reviewers"]:
        seconds = reviewer["median_seconds_per_item"]
        gold = reviewer["with_gold"]
        lines.append(
            f"{reviewer['email'][:34]:<34} {reviewer['labels']:>7} "
            f"{'—' if seconds is None else f'{seconds:.0f}':>9} "
            f"{_number(reviewer['with_others']):>15} "
            f"{'—' if gold['percent_agreement'] is None else f'{gold["percent_agreement"]:.3f}':>13} "
            f"{gold['n_pairs']:>7}"
        )
    for judge in report["judges"]:
        gold = judge["with_gold"]
        lines.append(
            f"{'judge run ' + str(judge['judge_run_id']):<34} {judge['labels']:>7} {'':>9} {'':>15} "
            f"{'—' if gold['percent_agreement'] is None else f'{gold["percent_agreement"]:.3f}':>13} "
            f"{gold['n_pairs']:>7}"
        )
    return "\n".join(lines) + "\n"
