"""The agreement dashboard's presentation: charts and rows made from a report dict, no database."""

from __future__ import annotations

from reviews.agreement_presenters import agreement_dashboard, clause_rows, confusion_tables


def _estimate(value, n_items, n_labels):  # type: ignore[no-untyped-def]
    return {"metric": "x", "value": value, "n_items": n_items, "n_labels": n_labels,
            "ci_low": None, "ci_high": None}  # fmt: skip


def _version(value, n_items, n_labels):  # type: ignore[no-untyped-def]
    figure = _estimate(value, n_items, n_labels)
    names = ("alpha_nominal", "fleiss_kappa", "gwet_ac1", "percent_agreement", "severity_alpha")
    return dict.fromkeys(names, figure)


REPORT = {
    "scales": {
        "verdicts": [
            {"value": "complies", "label": "Complies"},
            {"value": "violates", "label": "Violates"},
        ]
    },  # fmt: skip
    "clauses": [
        {
            "key": "honesty",
            "title": "Be honest",
            "final": _version(0.8, 40, 120),
            "first": _version(0.6, 40, 120),
            "confusion": [[30, 2], [3, 5]],
        },  # fmt: skip
        {
            "key": "privacy",
            "title": "Keep secrets",
            "final": _version(0.2, 12, 30),
            "first": _version(0.1, 12, 30),
            "confusion": [[1, 4], [4, 3]],
        },  # fmt: skip
    ],
    "campaign_overall": {"final": _version(0.5, 52, 150), "first": _version(0.4, 52, 150)},
    "reviewers": [{"id": 1, "name": "Ada"}, {"id": 2, "name": "Grace"}],
    "pairwise": {
        "reviewer_ids": [1, 2],
        "final": [[None, _estimate(0.7, 50, 100)], [_estimate(0.7, 50, 100), None]],
        "first": [[None, _estimate(0.5, 50, 100)], [_estimate(0.5, 50, 100), None]],
    },
}


def test_the_clause_table_lists_each_clause_in_order_and_then_the_whole_campaign() -> None:
    rows = clause_rows(REPORT)
    assert [row.key for row in rows] == ["honesty", "privacy", ""]
    assert rows[-1].is_campaign and rows[-1].final["alpha_nominal"]["n_items"] == 52


def test_the_alpha_chart_says_how_many_items_and_labels_each_bar_used() -> None:
    chart = agreement_dashboard(REPORT)["alpha_chart"]
    assert "40 items, 120 labels" in chart
    assert "12 items, 30 labels" in chart
    # Lowest first: the clause with the weaker agreement is drawn above the other.
    assert chart.index("privacy") < chart.index("honesty")


def test_confusion_tables_name_each_row_by_its_verdict_and_count_the_pairs() -> None:
    first = confusion_tables(REPORT)[0]
    assert [line["verdict"] for line in first["rows"]] == ["Complies", "Violates"]
    assert first["pairs"] == 40


def test_the_heat_map_writes_each_pairs_kappa_and_names() -> None:
    page = agreement_dashboard(REPORT)["kappa_map"]
    assert "Ada" in page and "Grace" in page and "0.70" in page
