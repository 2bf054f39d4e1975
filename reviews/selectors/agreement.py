"""A campaign's agreement report: the one read that the ``agreement`` command, the API and the
campaign's agreement page all show.

``campaign_agreement(campaign)`` returns a plain, JSON-serialisable dict (see
``AGREEMENT_REPORT_VERSION`` and ``_report``): per clause and for the whole campaign
Krippendorff's alpha (nominal; ordinal where the verdict scale is ordered), Fleiss' kappa (the
form for a varying number of raters), Gwet's AC1 and percent agreement with bootstrap intervals
for alpha and AC1, severity alpha; per reviewer their labels, median time per item, agreement with
the others and with adjudicated gold; the reviewer × reviewer Cohen's kappa matrix; confusion
matrices; each of these on first submissions and on final labels; and model judges against gold,
apart from the humans.

What counts
-----------
* Human agreement reads submitted human labels only (judges never count, drafts never count).
* "Final" is each label as it stands; "first submission" is the label as it was before its first
  revision after submitting (the ``before`` of its earliest ``revise`` history row), so a team
  sees whether discussion converged.
* Gold is the current *adjudicated* decision only: agreed gold is the reviewers' own agreement,
  and measuring them against it would count them twice.
* An (item, clause) with fewer than two verdicts is left out (``reviews.metrics``); every figure
  carries ``n_items`` and ``n_labels``.

Cost
----
The labels come out of PostgreSQL in one binary ``COPY`` of six integers per label (verdict and
severity already turned into scale positions), read straight into numpy: no model instances, no
Python tuple per row. The report is cached under a stamp of the campaign's labels and
decisions (count, latest change, latest decision), so any label change or decision recomputes it.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import psycopg
from django.core.cache import cache
from django.db import connection
from django.db.models import Count, Max
from django.utils import timezone

from clausebook.models import User
from reviews import metrics
from reviews.models import (
    Assignment,
    Campaign,
    CampaignClause,
    DecisionKind,
    GoldDecision,
    Label,
    LabelSource,
)

AGREEMENT_REPORT_VERSION = 1
BOOTSTRAP_DRAWS = metrics.DEFAULT_DRAWS
BOOTSTRAP_SEED = metrics.DEFAULT_SEED
CACHE_SECONDS = 24 * 3600

# One label per row, verdict and severity as 0-based positions on the campaign's scales (-1:
# none, or a value no longer on the scale). PostgreSQL packs all of them into one two-dimensional
# bigint array and sends its binary form (``array_send``) as a single bytea: one value crosses
# the wire, and numpy reads it with a fixed stride, without a Python object per label. The sort
# by (clause, item, owner) happens in numpy, where it is cheaper than in the aggregate.
_LABEL_ROWS_SQL = """
SELECT array_send(array_agg(ARRAY[
           l.id, l.item_id, l.clause_id, {owner},
           COALESCE(array_position(%s::text[], l.verdict::text), 0) - 1,
           COALESCE(array_position(%s::text[], NULLIF(l.severity, '')::text), 0) - 1
       ]::int8[]))
FROM reviews_label l
WHERE l.campaign_id = %s AND l.source = %s AND l.status = 'submitted'
"""
_COLUMNS = ("id", "item", "clause", "owner", "verdict", "severity")
_ROW_DTYPE = np.dtype([(name, np.int64) for name in _COLUMNS])
# array_send of a 2-D array: ndim, has-nulls flag, element type, then (size, lower bound) per
# dimension; then each element as its length (int4) and its value (int8), big-endian.
_ARRAY_HEADER = 12 + 2 * 8
_ELEMENT = np.dtype([("length", ">i4"), ("value", ">i8")])


def _label_rows(campaign: Campaign, source: str) -> np.ndarray:
    owner = "l.reviewer_id" if source == LabelSource.HUMAN else "l.judge_run_id"
    params = [
        _scale_values(campaign.verdict_scale),
        _scale_values(campaign.severity_scale),
        campaign.pk,
        source,
    ]
    connection.ensure_connection()
    # Django's cursors bind on the client, which allows text results only.
    with psycopg.Cursor(connection.connection) as raw:
        raw.execute(_LABEL_ROWS_SQL.format(owner=owner), params, binary=True)
        (data,) = raw.fetchone()
    rows = np.zeros(0, dtype=_ROW_DTYPE)
    if data:
        values = np.frombuffer(data, dtype=_ELEMENT, offset=_ARRAY_HEADER)["value"]
        table = values.reshape(-1, len(_COLUMNS))
        order = np.lexsort((table[:, 3], table[:, 1], table[:, 2]))
        table = table[order]
        rows = np.empty(len(table), dtype=_ROW_DTYPE)
        for index, name in enumerate(_COLUMNS):
            rows[name] = table[:, index]
    return rows


def _scale_values(scale: list[dict[str, str]] | list[str]) -> list[str]:
    return [entry["value"] if isinstance(entry, dict) else str(entry) for entry in scale]


def _scale_labels(scale: list[dict[str, str]] | list[str]) -> list[str]:
    return [
        entry.get("label") or entry["value"] if isinstance(entry, dict) else str(entry)
        for entry in scale
    ]


# ---------------------------------------------------------------- cache ---------------------


def agreement_stamp(campaign: Campaign) -> str:
    """A cheap fingerprint of everything the report reads: it changes with any label write
    (count, latest ``updated_at``, latest id) and any gold decision of the campaign."""
    labels = Label.objects.filter(campaign=campaign).aggregate(
        count=Count("id"), changed=Max("updated_at"), last=Max("id")
    )
    decided = GoldDecision.objects.filter(campaign=campaign).aggregate(last=Max("id"))
    text = (
        f"{AGREEMENT_REPORT_VERSION}:{labels['count']}:{labels['changed']}:{labels['last']}:"
        f"{decided['last']}:{campaign.verdict_scale}:{campaign.severity_scale}:"
        f"{campaign.verdict_scale_ordered}:{campaign.severity_scale_ordered}"
    )
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def campaign_agreement(campaign: Campaign, *, use_cache: bool = True) -> dict[str, Any]:
    """The campaign's agreement report (see the module), from the cache while nothing changed."""
    stamp = agreement_stamp(campaign)
    key = f"agreement:{campaign.pk}:{stamp}"
    if use_cache:
        cached = cache.get(key)
        if cached is not None:
            return cached
    report = _report(campaign, stamp)
    if use_cache:
        cache.set(key, report, CACHE_SECONDS)
    return report


# ---------------------------------------------------------------- the report ----------------


def _report(campaign: Campaign, stamp: str) -> dict[str, Any]:
    clauses = list(
        CampaignClause.objects.filter(campaign=campaign)
        .order_by("position")
        .values_list("clause_id", "clause__key", "clause__title")
    )
    verdicts = _scale_values(campaign.verdict_scale)
    severities = _scale_values(campaign.severity_scale)
    human = _label_rows(campaign, LabelSource.HUMAN)
    first_verdicts, first_severities = _first_submissions(campaign, human)
    judge = _label_rows(campaign, LabelSource.JUDGE)
    gold = list(
        GoldDecision.objects.filter(
            campaign=campaign, is_current=True, kind=DecisionKind.ADJUDICATED
        ).values_list("item_id", "clause_id", "verdict", "severity")
    )

    clause_ids = np.array([c[0] for c in clauses], dtype=np.int64)
    reviewer_ids = np.unique(human["owner"]) if len(human) else np.zeros(0, dtype=np.int64)
    frame = _Frame(human, clause_ids, reviewer_ids)
    final = _LabelSet(frame, human["verdict"].astype(np.int64), human["severity"].astype(np.int64))
    first = _LabelSet(frame, first_verdicts, first_severities)
    gold_codes = frame.gold_codes(gold, verdicts)

    scale_info = {
        "verdicts": [
            {"value": v, "label": label}
            for v, label in zip(verdicts, _scale_labels(campaign.verdict_scale), strict=True)
        ],
        "verdicts_ordered": campaign.verdict_scale_ordered,
        "severities": [
            {"value": v, "label": label}
            for v, label in zip(severities, _scale_labels(campaign.severity_scale), strict=True)
        ],
        "severities_ordered": campaign.severity_scale_ordered,
    }
    options = _Options(
        q=len(verdicts),
        q_severity=len(severities),
        verdict_ordered=campaign.verdict_scale_ordered,
        severity_ordered=campaign.severity_scale_ordered,
    )
    per_clause = []
    for index, (clause_id, key, title) in enumerate(clauses):
        per_clause.append(
            {
                "clause_id": clause_id,
                "key": key,
                "title": title,
                "final": final.coefficients(options, clause=index),
                "first": first.coefficients(options, clause=index),
                "confusion": final.clause_confusion(options.q, index).tolist(),
            }
        )
    users = {
        pk: (email, name)
        for pk, email, name in User.objects.filter(pk__in=reviewer_ids.tolist()).values_list(
            "pk", "email", "display_name"
        )
    }
    timings = _median_seconds(campaign)
    with_others = final.against_others(options.q)
    with_gold = final.against_gold(options.q, gold_codes)
    label_counts = np.bincount(frame.reviewer, minlength=len(reviewer_ids))
    reviewers = [
        {
            "id": int(pk),
            "email": users.get(int(pk), ("", ""))[0],
            "name": users.get(int(pk), ("", ""))[1] or users.get(int(pk), ("", ""))[0],
            "labels": int(label_counts[r]),
            "median_seconds_per_item": timings.get(int(pk)),
            "with_others": with_others[r],
            "with_gold": with_gold[r],
        }
        for r, pk in enumerate(reviewer_ids)
    ]
    return {
        "report_version": AGREEMENT_REPORT_VERSION,
        "campaign": {"id": campaign.pk, "title": campaign.title},
        "computed_at": timezone.now().isoformat(),
        "stamp": stamp,
        "method": {
            "labels": "submitted human labels; judges reported apart, against gold",
            "first_submission": "each label before its first revision after submitting",
            "units": "an (item, clause) pair with at least two verdicts; fewer are left out",
            "fleiss_kappa": "form for a varying number of raters per item (Gwet 2014, 2.5)",
            "chance": "Fleiss and AC1 chance terms over the items used (with two or more labels)",
            "bootstrap": {
                "draws": BOOTSTRAP_DRAWS,
                "seed": BOOTSTRAP_SEED,
                "confidence": metrics.CONFIDENCE,
                "resampled": "items (per clause); (item, clause) pairs for the campaign",
                "method": "percentile",
            },
            "gold": "current adjudicated decisions only; agreed gold is never a reference",
        },
        "scales": scale_info,
        "counts": {
            "items": int(len(np.unique(frame.item))) if len(human) else 0,
            "labels": int(len(human)),
            "reviewers": len(reviewer_ids),
            "adjudicated": len(gold),
            "revised_labels": int((first_verdicts != final.verdict).sum()),
        },
        "campaign_overall": {
            "final": final.coefficients(options),
            "first": first.coefficients(options),
        },
        "clauses": per_clause,
        "reviewers": reviewers,
        "pairwise": {
            "reviewer_ids": [int(pk) for pk in reviewer_ids],
            "final": final.pairwise_kappa(options.q),
            "first": first.pairwise_kappa(options.q),
        },
        "judges": _judges(campaign, judge, frame, gold, verdicts, options.q),
    }


class _Options:
    def __init__(
        self, *, q: int, q_severity: int, verdict_ordered: bool, severity_ordered: bool
    ) -> None:
        self.q = q
        self.q_severity = q_severity
        self.verdict_ordered = verdict_ordered
        self.severity_ordered = severity_ordered


class _Frame:
    """Where each human label sits: its clause (scope position), item, reviewer (index into the
    sorted reviewer ids) and unit (one per (clause, item))."""

    def __init__(self, rows: np.ndarray, clause_ids: np.ndarray, reviewer_ids: np.ndarray) -> None:
        self.clause_ids = clause_ids
        order = np.argsort(clause_ids)
        position = np.searchsorted(clause_ids[order], rows["clause"])
        position = np.clip(position, 0, max(len(clause_ids) - 1, 0))
        in_scope = (
            clause_ids[order][position] == rows["clause"]
            if len(clause_ids)
            else np.zeros(len(rows), bool)
        )
        self.clause = np.where(in_scope, order[position] if len(clause_ids) else 0, -1)
        self.item_ids, self.item = np.unique(rows["item"], return_inverse=True)
        self.reviewer = np.searchsorted(reviewer_ids, rows["owner"])
        self.n_reviewers = len(reviewer_ids)
        self.unit = self.clause * len(self.item_ids) + self.item
        self.in_scope = in_scope
        # Rows arrive sorted by (clause, item): a unit's labels are contiguous, so its running
        # number comes from where (clause, item) changes, with no sort.
        change = np.ones(len(rows), dtype=bool)
        change[1:] = (rows["clause"][1:] != rows["clause"][:-1]) | (
            rows["item"][1:] != rows["item"][:-1]
        )
        self.unit_seq = np.cumsum(change) - 1
        self.n_units = int(change.sum())
        self.unit_clause = self.clause[change]

    def unit_of(self, item_ids: np.ndarray, clause_ids: np.ndarray) -> np.ndarray:
        """The unit of each (item, clause), -1 where no human label is on that pair."""
        item_pos = np.searchsorted(self.item_ids, item_ids)
        item_pos = np.clip(item_pos, 0, max(len(self.item_ids) - 1, 0))
        known_item = (self.item_ids[item_pos] == item_ids) if len(self.item_ids) else item_pos < 0
        clause_pos = np.array(
            [
                int(np.nonzero(self.clause_ids == c)[0][0]) if c in self.clause_ids else -1
                for c in clause_ids
            ],
            dtype=np.int64,
        )
        units = clause_pos * len(self.item_ids) + item_pos
        return np.where(known_item & (clause_pos >= 0), units, -1)

    def gold_codes(self, gold: list[tuple[int, int, str, str]], verdicts: list[str]) -> np.ndarray:
        """The adjudicated verdict code of each label's unit (-1: none)."""
        codes = np.full(len(self.unit), -1, dtype=np.int64)
        if not gold or not len(self.unit):
            return codes
        index = {v: i for i, v in enumerate(verdicts)}
        units = self.unit_of(
            np.array([g[0] for g in gold], dtype=np.int64),
            np.array([g[1] for g in gold], dtype=np.int64),
        )
        by_unit = {int(u): index.get(g[2], -1) for u, g in zip(units, gold, strict=True) if u >= 0}
        if not by_unit:
            return codes
        keys = np.array(sorted(by_unit), dtype=np.int64)
        values = np.array([by_unit[k] for k in keys.tolist()], dtype=np.int64)
        pos = np.clip(np.searchsorted(keys, self.unit), 0, len(keys) - 1)
        return np.where(keys[pos] == self.unit, values[pos], -1)


class _LabelSet:
    """One version of the human labels (final, or first submissions) over a ``_Frame``."""

    def __init__(self, frame: _Frame, verdict: np.ndarray, severity: np.ndarray) -> None:
        self.frame = frame
        self.verdict = np.where(frame.in_scope, verdict, -1)
        self.severity = np.where(frame.in_scope, severity, -1)
        self._tables: dict[tuple[int, int], np.ndarray] = {}
        self._pair_cache: tuple[np.ndarray, ...] | None = None
        self._confusions: dict[str, np.ndarray] = {}

    def _counts(self, codes: np.ndarray, q: int, clause: int | None) -> np.ndarray:
        key = (id(codes), q)
        if key not in self._tables:
            keep = codes >= 0
            flat = self.frame.unit_seq[keep] * q + codes[keep]
            table = np.bincount(flat, minlength=self.frame.n_units * q)
            self._tables[key] = table.reshape(self.frame.n_units, q)
        table = self._tables[key]
        if clause is None:
            return table[self.frame.unit_clause >= 0]
        return table[self.frame.unit_clause == clause]

    def coefficients(self, options: _Options, *, clause: int | None = None) -> dict[str, Any]:
        counts = self._counts(self.verdict, options.q, clause)
        boot = {"bootstrap": BOOTSTRAP_DRAWS, "seed": BOOTSTRAP_SEED}
        out: dict[str, Any] = {
            "alpha_nominal": metrics.krippendorff_alpha_counts(
                counts, level="nominal", **boot
            ).as_dict(),
            "fleiss_kappa": metrics.fleiss_kappa_counts(counts).as_dict(),
            "gwet_ac1": metrics.gwet_ac1_counts(counts, **boot).as_dict(),
            "percent_agreement": metrics.percent_agreement_counts(counts).as_dict(),
        }
        if options.verdict_ordered:
            out["alpha_ordinal"] = metrics.krippendorff_alpha_counts(
                counts, level="ordinal", **boot
            ).as_dict()
        severity = self._counts(self.severity, options.q_severity, clause)
        level = "ordinal" if options.severity_ordered else "nominal"
        out["severity_alpha"] = metrics.krippendorff_alpha_counts(
            severity, level=level, **boot
        ).as_dict()
        return out

    def _pairs(self) -> tuple[np.ndarray, ...]:
        """Every pair of verdicts on the same unit, as (clause, reviewer a, reviewer b, a's
        verdict, b's verdict) with a < b (rows are sorted by unit, then reviewer)."""
        if self._pair_cache is not None:
            return self._pair_cache
        keep = (self.verdict >= 0) & (self.frame.clause >= 0)
        unit = self.frame.unit_seq[keep]
        reviewer = self.frame.reviewer[keep]
        verdict = self.verdict[keep]
        clause = self.frame.clause[keep]
        parts: list[tuple[np.ndarray, ...]] = []
        offset = 1
        while offset < len(unit):
            left = np.nonzero(unit[:-offset] == unit[offset:])[0]
            if not len(left):
                break
            right = left + offset
            parts.append(
                (clause[left], reviewer[left], reviewer[right], verdict[left], verdict[right])
            )
            offset += 1
        if parts:
            self._pair_cache = tuple(np.concatenate(column) for column in zip(*parts, strict=True))
        else:
            self._pair_cache = tuple(np.zeros(0, dtype=np.int64) for _ in range(5))
        return self._pair_cache

    def _pair_confusion(self, q: int) -> np.ndarray:
        """(reviewer a, reviewer b, a's verdict, b's verdict) counts, pooled over clauses."""
        if "pairs" in self._confusions:
            return self._confusions["pairs"]
        self._confusions["pairs"] = self._pair_confusion_compute(q)
        return self._confusions["pairs"]

    def _pair_confusion_compute(self, q: int) -> np.ndarray:
        _, a, b, va, vb = self._pairs()
        r = self.frame.n_reviewers
        flat = ((a * r + b) * q + va) * q + vb
        return np.bincount(flat, minlength=r * r * q * q).reshape(r, r, q, q)

    def clause_confusion(self, q: int, clause: int) -> np.ndarray:
        """Verdict pairs on one clause: rows the verdict of the pair's reviewer with the lower
        account id."""
        if "clauses" not in self._confusions:
            c, _, _, va, vb = self._pairs()
            n = len(self.frame.clause_ids)
            flat = (c * q + va) * q + vb
            self._confusions["clauses"] = np.bincount(flat, minlength=n * q * q).reshape(n, q, q)
        return self._confusions["clauses"][clause]

    def pairwise_kappa(self, q: int) -> list[list[dict[str, Any] | None]]:
        cm = self._pair_confusion(q)
        r = self.frame.n_reviewers
        table: list[list[dict[str, Any] | None]] = [[None] * r for _ in range(r)]
        for a in range(r):
            for b in range(a + 1, r):
                both = cm[a, b] + cm[b, a].T
                estimate = metrics.cohen_kappa_confusion(both).as_dict()
                estimate["percent_agreement"] = (
                    float(np.trace(both) / both.sum()) if both.sum() else None
                )
                estimate["confusion"] = both.tolist()
                table[a][b] = estimate
                transposed = dict(estimate, confusion=both.T.tolist())
                table[b][a] = transposed
        return table

    def against_others(self, q: int) -> list[dict[str, Any]]:
        cm = self._pair_confusion(q)
        out = []
        for r in range(self.frame.n_reviewers):
            mine = cm[r].sum(axis=0) + cm[:, r].sum(axis=0).T
            out.append(_two_way(mine))
        return out

    def against_gold(self, q: int, gold: np.ndarray) -> list[dict[str, Any]]:
        keep = (gold >= 0) & (self.verdict >= 0)
        r = self.frame.n_reviewers
        flat = (self.frame.reviewer[keep] * q + self.verdict[keep]) * q + gold[keep]
        cm = np.bincount(flat, minlength=r * q * q).reshape(r, q, q)
        return [_two_way(cm[i]) for i in range(r)]


def _two_way(matrix: np.ndarray) -> dict[str, Any]:
    """Cohen's kappa and percent agreement of one rater against a reference (pairs of labels)."""
    estimate = metrics.cohen_kappa_confusion(matrix).as_dict()
    total = int(matrix.sum())
    estimate["percent_agreement"] = float(np.trace(matrix) / total) if total else None
    estimate["n_pairs"] = total
    estimate["confusion"] = matrix.tolist()
    return estimate


def _first_submissions(campaign: Campaign, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Verdict and severity codes of each label as first submitted: the ``before`` of its
    earliest ``revise`` history row where it has one, else the label as it is."""
    verdict = rows["verdict"].astype(np.int64)
    severity = rows["severity"].astype(np.int64)
    sql = """
        SELECT DISTINCT ON (r.label_id) r.label_id,
               COALESCE(array_position(%s::text[], r.before->>'verdict'), 0) - 1,
               COALESCE(array_position(%s::text[], NULLIF(r.before->>'severity', '')), 0) - 1
        FROM reviews_labelrevision r JOIN reviews_label l ON l.id = r.label_id
        WHERE l.campaign_id = %s AND l.source = 'human' AND l.status = 'submitted'
          AND r.kind = 'revise'
        ORDER BY r.label_id, r.revision
    """
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [
                _scale_values(campaign.verdict_scale),
                _scale_values(campaign.severity_scale),
                campaign.pk,
            ],
        )
        revised = cursor.fetchall()
    if revised and len(rows):
        ids = rows["id"].astype(np.int64)
        order = np.argsort(ids)
        label_ids = np.array([r[0] for r in revised], dtype=np.int64)
        pos = order[np.searchsorted(ids[order], label_ids)]
        verdict = verdict.copy()
        severity = severity.copy()
        verdict[pos] = [r[1] for r in revised]
        severity[pos] = [r[2] for r in revised]
    return verdict, severity


def _median_seconds(campaign: Campaign) -> dict[int, float]:
    """Each reviewer's median time per submitted item, from claiming it to submitting it."""
    sql = """
        SELECT reviewer_id,
               percentile_cont(0.5) WITHIN GROUP (
                   ORDER BY EXTRACT(EPOCH FROM submitted_at - claimed_at))
        FROM reviews_assignment
        WHERE campaign_id = %s AND status = %s AND submitted_at IS NOT NULL
        GROUP BY reviewer_id
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [campaign.pk, Assignment.Status.SUBMITTED])
        return {pk: float(seconds) for pk, seconds in cursor.fetchall() if seconds is not None}


def _judges(
    campaign: Campaign,
    rows: np.ndarray,
    frame: _Frame,
    gold: list[tuple[int, int, str, str]],
    verdicts: list[str],
    q: int,
) -> list[dict[str, Any]]:
    """Each judge run's labels against adjudicated gold, like a reviewer's."""
    if not len(rows):
        return []
    index = {v: i for i, v in enumerate(verdicts)}
    gold_by_pair = {(item, clause): index.get(verdict, -1) for item, clause, verdict, _ in gold}
    out = []
    for run_id in np.unique(rows["owner"]).tolist():
        mine = rows[rows["owner"] == run_id]
        reference = np.array(
            [
                gold_by_pair.get((int(i), int(c)), -1)
                for i, c in zip(mine["item"], mine["clause"], strict=True)
            ],
            dtype=np.int64,
        )
        verdict = mine["verdict"].astype(np.int64)
        keep = (reference >= 0) & (verdict >= 0)
        matrix = np.bincount(verdict[keep] * q + reference[keep], minlength=q * q).reshape(q, q)
        out.append(
            {"judge_run_id": int(run_id), "labels": int(len(mine)), "with_gold": _two_way(matrix)}
        )
    return out
