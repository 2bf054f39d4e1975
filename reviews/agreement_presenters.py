"""Presentation of a campaign's agreement report for its dashboard: the SVG charts and the rows of
its tables, each figure with the items and labels it used.

No queries and no access checks here: the view resolves the campaign and reads the report
(``reviews.selectors.agreement.campaign_agreement``) first. Everything here works on the report's
plain dict, so the page shows exactly what the API and the command print.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.safestring import SafeString, mark_safe

from reviews import charts

#: The report's two versions of the labels, as the page names them.
VERSIONS = {"final": "final labels", "first": "first submissions"}


@dataclass(frozen=True)
class ClauseRow:
    """One line of the per-clause table: a clause (or the whole campaign) on both versions."""

    key: str
    title: str
    final: dict[str, Any]
    first: dict[str, Any]
    is_campaign: bool = False


def alpha_chart(report: dict[str, Any], version: str) -> SafeString:
    """Krippendorff's alpha per clause, lowest first, with its interval and the items it used."""
    bars = []
    for clause in report["clauses"]:
        alpha = clause[version]["alpha_nominal"]
        bars.append(
            charts.Bar(
                label=clause["key"],
                value=alpha["value"],
                low=alpha.get("ci_low"),
                high=alpha.get("ci_high"),
                note=f"{alpha['n_items']} items, {alpha['n_labels']} labels",
            )
        )
    svg = charts.interval_bars(
        bars,
        title=f"Krippendorff's alpha per clause ({VERSIONS[version]}), lowest first, 95% intervals",
    )
    # charts.py escapes every text it writes, so its SVG may be marked safe.
    return mark_safe(svg)  # noqa: S308


def kappa_heat_map(report: dict[str, Any], version: str) -> SafeString:
    """Cohen's kappa between each pair of reviewers, with the items both labeled."""
    names = {row["id"]: row["name"] for row in report["reviewers"]}
    ids = report["pairwise"]["reviewer_ids"]
    table = report["pairwise"][version]
    values = [[cell["value"] if cell else None for cell in row] for row in table]
    notes = [[f"{cell['n_items']} shared" if cell else "" for cell in row] for row in table]
    svg = charts.heat_map(
        [names.get(pk, str(pk)) for pk in ids],
        values,
        notes,
        title=f"Cohen's kappa between each pair of reviewers ({VERSIONS[version]}), over the "
        "items both labeled",
    )
    return mark_safe(svg)  # noqa: S308 - escaped by charts.py


def clause_rows(report: dict[str, Any]) -> list[ClauseRow]:
    """Each clause in scope order, then the whole campaign."""
    rows = [
        ClauseRow(key=c["key"], title=c["title"], final=c["final"], first=c["first"])
        for c in report["clauses"]
    ]
    overall = report["campaign_overall"]
    rows.append(
        ClauseRow(
            key="",
            title="Whole campaign",
            final=overall["final"],
            first=overall["first"],
            is_campaign=True,
        )
    )
    return rows


def confusion_tables(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Per clause, the verdict-pair counts with each row named by its verdict."""
    labels = [v["label"] for v in report["scales"]["verdicts"]]
    return [
        {
            "key": clause["key"],
            "rows": [
                {"verdict": labels[i] if i < len(labels) else str(i), "counts": line}
                for i, line in enumerate(clause["confusion"])
            ],
            "pairs": sum(sum(line) for line in clause["confusion"]),
        }
        for clause in report["clauses"]
    ]


def agreement_dashboard(report: dict[str, Any]) -> dict[str, Any]:
    """The dashboard template's context from a report."""
    return {
        "report": report,
        "alpha_chart": alpha_chart(report, "final"),
        "alpha_chart_first": alpha_chart(report, "first"),
        "kappa_map": kappa_heat_map(report, "final"),
        "kappa_map_first": kappa_heat_map(report, "first"),
        "clause_rows": clause_rows(report),
        "confusions": confusion_tables(report),
        "verdict_labels": [v["label"] for v in report["scales"]["verdicts"]],
    }
