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
  carries ``n_items`` and ``n_labels`` (for a reviewer against the others: the (item, clause)
  pairs where they and someone else gave a verdict, and every verdict on those pairs).

Cost
----
The labels come out of PostgreSQL as three binary strings of big-endian int8 (item, clause, and
owner, verdict and severity packed into one), built by ``string_agg`` over one range of the
covering index ``label_campaign_counted`` in (clause, item) order: one value per column crosses
the wire, numpy reads each with a fixed stride, and no Python object is made per label. Verdict
and severity become scale positions through a ``CASE`` on the scale's few values.

In numpy, each (clause, item) is a *unit*; a version of the labels (final, first submissions)
becomes one units × scale count table, compressed per clause into its distinct count vectors and
how many units have each (``metrics.distinct_counts``): every coefficient and every bootstrap
draw then works on a few dozen rows instead of 100,000 units. Pairs of verdicts on a unit are
found once, by position, for the pairwise kappas and confusion matrices of both versions.

Cache
-----
The report is cached under a stamp of what it reads (``agreement_stamp``): the campaign's latest
label change (``max(updated_at)``, one step down the index ``label_campaign_changed``) and
newest label and decision ids, its scales and scope. Labels are never deleted once submitted,
and every write sets ``updated_at``, so any change moves the stamp.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import numpy as np
import psycopg
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from clausebook.models import User
from reviews import metrics
from reviews.models import (
    Assignment,
    Campaign,
    CampaignClause,
    DecisionKind,
    GoldDecision,
    JudgeRun,
    LabelSource,
)

AGREEMENT_REPORT_VERSION = 3
BOOTSTRAP_DRAWS = metrics.DEFAULT_DRAWS
BOOTSTRAP_SEED = metrics.DEFAULT_SEED
CACHE_SECONDS = 24 * 3600
# A label write stamped at time t may commit a little after t (its transaction is still open),
# so a report whose newest label change is this recent could have missed one with the same or an
# older stamp: it lives this long only, and the next read after that computes it again.
SETTLING = timedelta(seconds=60)

# Owner, verdict and severity packed into one int8: 12 bits for each scale position + 1 (0: no
# position), the owner's id above them.
_POSITION_BITS = 12
_MAX_SCALE = 2**_POSITION_BITS - 2

_LABELS_SQL = """
SELECT string_agg(int8send(picked.item_id), ''), string_agg(int8send(picked.clause_id), ''),
       string_agg(int8send(picked.packed), '')
FROM (
    SELECT l.item_id, l.clause_id,
           ({owner} << {shift2}) | (({verdict} + 1) << {shift}) | ({severity} + 1) AS packed
    FROM reviews_label l
    WHERE {where}
    ORDER BY l.clause_id, l.item_id
) AS picked
"""
# Human labels: one range of label_campaign_counted, an index-only scan in (clause, item) order.
_HUMAN_WHERE = "l.campaign_id = %s AND l.source = 'human' AND l.status = 'submitted'"
# Judge labels through the judge runs' partial index, never a walk over the humans' labels.
_JUDGE_WHERE = (
    "l.judge_run_id IN (SELECT r.id FROM reviews_judgerun r WHERE r.campaign_id = %s) "
    "AND l.source = 'judge' AND l.status = 'submitted'"
)


def _position_sql(column: str, values: list[str]) -> tuple[str, list[str]]:
    """A ``CASE`` giving each value's 0-based position on the scale (-1 off it)."""
    if len(values) > _MAX_SCALE:
        raise ValueError(f"a scale of {len(values)} values is more than {_MAX_SCALE}")
    if not values:
        return "-1", []
    whens = " ".join(f"WHEN %s THEN {i}" for i in range(len(values)))
    return f"(CASE {column} {whens} ELSE -1 END)", list(values)


class _Rows:
    """Labels as parallel int64 arrays, sorted by (clause, item)."""

    def __init__(
        self,
        item: np.ndarray,
        clause: np.ndarray,
        owner: np.ndarray,
        verdict: np.ndarray,
        severity: np.ndarray,
    ) -> None:
        self.item, self.clause, self.owner = item, clause, owner
        self.verdict, self.severity = verdict, severity

    def __len__(self) -> int:
        return len(self.item)

    def take(self, index: np.ndarray) -> _Rows:
        return _Rows(
            self.item[index],
            self.clause[index],
            self.owner[index],
            self.verdict[index],
            self.severity[index],
        )


def _label_rows(campaign: Campaign, source: str) -> _Rows:
    human = source == LabelSource.HUMAN
    verdict_sql, verdict_params = _position_sql("l.verdict", _scale_values(campaign.verdict_scale))
    severity_sql, severity_params = _position_sql(
        "l.severity", _scale_values(campaign.severity_scale)
    )
    sql = _LABELS_SQL.format(
        owner="l.reviewer_id" if human else "l.judge_run_id",
        verdict=verdict_sql,
        severity=severity_sql,
        shift=_POSITION_BITS,
        shift2=2 * _POSITION_BITS,
        where=_HUMAN_WHERE if human else _JUDGE_WHERE,
    )
    connection.ensure_connection()
    # Django's cursors bind on the client, which allows text results only; bytea in text is hex.
    with psycopg.Cursor(connection.connection) as raw:
        raw.execute(sql, [*verdict_params, *severity_params, campaign.pk], binary=True)
        items, clauses, packed = raw.fetchone()
    if not items:
        empty = np.zeros(0, dtype=np.int64)
        return _Rows(empty, empty, empty, empty, empty)
    item = np.frombuffer(items, dtype=">i8").astype(np.int64)
    clause = np.frombuffer(clauses, dtype=">i8").astype(np.int64)
    word = np.frombuffer(packed, dtype=">i8").astype(np.int64)
    mask = (1 << _POSITION_BITS) - 1
    rows = _Rows(
        item,
        clause,
        word >> (2 * _POSITION_BITS),
        ((word >> _POSITION_BITS) & mask) - 1,
        (word & mask) - 1,
    )
    # The subquery's order reaches the aggregate in practice, not by promise: check it (cheap)
    # and sort only if it did not.
    if len(rows) > 1:
        step_clause = np.diff(clause)
        in_order = (step_clause > 0) | ((step_clause == 0) & (np.diff(item) >= 0))
        if not in_order.all():
            rows = rows.take(np.lexsort((item, clause)))
    return rows


def _scale_values(scale: list[dict[str, str]] | list[str]) -> list[str]:
    return [entry["value"] if isinstance(entry, dict) else str(entry) for entry in scale]


def _scale_labels(scale: list[dict[str, str]] | list[str]) -> list[str]:
    return [
        entry.get("label") or entry["value"] if isinstance(entry, dict) else str(entry)
        for entry in scale
    ]


# ---------------------------------------------------------------- cache ---------------------

# Each part is one index probe: max(updated_at) and max(id) of the campaign's labels walk one end
# of label_campaign_changed and label_campaign_id; gold decisions are append-only (a reopen or a
# new verdict is a new row), so their newest id moves with every change (decision_campaign_id).
_STAMP_SQL = """
SELECT (SELECT max(updated_at) FROM reviews_label WHERE campaign_id = %(campaign)s),
       (SELECT max(id) FROM reviews_label WHERE campaign_id = %(campaign)s),
       (SELECT max(id) FROM reviews_golddecision WHERE campaign_id = %(campaign)s),
       (SELECT string_agg(clause_id || ':' || position, ',' ORDER BY position, clause_id)
        FROM reviews_campaignclause WHERE campaign_id = %(campaign)s)
"""


def _stamp_parts(campaign: Campaign) -> tuple[Any, ...]:
    with connection.cursor() as cursor:
        cursor.execute(_STAMP_SQL, {"campaign": campaign.pk})
        return cursor.fetchone()


def agreement_stamp(campaign: Campaign) -> str:
    """A cheap fingerprint of everything the report reads: it changes with any label write
    (latest ``updated_at``, newest id), any gold decision of the campaign, and its scales and
    scope. Cost: a few index probes, whatever the campaign's size."""
    return _stamp(campaign, _stamp_parts(campaign))


def _stamp(campaign: Campaign, parts: tuple[Any, ...]) -> str:
    changed, last_label, last_decision, scope = parts
    text = (
        f"{AGREEMENT_REPORT_VERSION}:{changed}:{last_label}:{last_decision}:{scope}:"
        f"{campaign.verdict_scale}:{campaign.severity_scale}:"
        f"{campaign.verdict_scale_ordered}:{campaign.severity_scale_ordered}"
    )
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def campaign_agreement(campaign: Campaign, *, use_cache: bool = True) -> dict[str, Any]:
    """The campaign's agreement report (see the module), from the cache while nothing changed."""
    parts = _stamp_parts(campaign)
    stamp = _stamp(campaign, parts)
    key = f"agreement:{campaign.pk}:{stamp}"
    if use_cache:
        cached = cache.get(key)
        if cached is not None:
            return cached
    report = _report(campaign, stamp)
    if use_cache:
        changed = parts[0]
        settling = changed is not None and timezone.now() - changed < SETTLING
        cache.set(key, report, int(SETTLING.total_seconds()) if settling else CACHE_SECONDS)
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
    judge = _label_rows(campaign, LabelSource.JUDGE)
    gold = list(
        GoldDecision.objects.filter(
            campaign=campaign, is_current=True, kind=DecisionKind.ADJUDICATED
        ).values_list("item_id", "clause_id", "verdict", "severity")
    )

    clause_ids = np.array([c[0] for c in clauses], dtype=np.int64)
    reviewer_ids = _distinct_ids(human.owner)
    frame = _Frame(human, clause_ids, reviewer_ids)
    first_verdicts, first_severities = _first_submissions(campaign, frame)
    final = _LabelSet(frame, frame.rows.verdict, frame.rows.severity)
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
    label_counts = np.bincount(
        np.searchsorted(reviewer_ids, human.owner), minlength=len(reviewer_ids)
    )
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
            "counts": "every figure gives n_items (the (item, clause) pairs it used) and "
            "n_labels (the verdicts on them it used)",
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
            "items": int(len(_distinct_ids(human.item))),
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
        "judges": _judges(judge, frame, gold_codes, options.q, campaign, clauses, reviewer_ids),
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
    """The human labels on clauses in scope, sorted by (clause, item), and where each sits: its
    clause (scope position), reviewer (index into the sorted reviewer ids) and unit (running
    number of its (clause, item)); and the pairs of labels that share a unit."""

    def __init__(self, rows: _Rows, clause_ids: np.ndarray, reviewer_ids: np.ndarray) -> None:
        self.clause_ids = clause_ids
        self.n_clauses = len(clause_ids)
        self.n_reviewers = len(reviewer_ids)
        position = _positions(clause_ids, rows.clause)
        keep = position >= 0
        self.rows = rows.take(np.nonzero(keep)[0]) if not keep.all() else rows
        self.clause = position[keep]
        self.reviewer = np.searchsorted(reviewer_ids, self.rows.owner)
        n = len(self.rows)
        # Rows are sorted by (clause, item): a unit's labels are contiguous, so its running
        # number comes from where (clause, item) changes, with no sort.
        change = np.ones(n, dtype=bool)
        change[1:] = (self.rows.clause[1:] != self.rows.clause[:-1]) | (
            self.rows.item[1:] != self.rows.item[:-1]
        )
        self.unit = np.cumsum(change) - 1
        self.unit_start = np.nonzero(change)[0]
        self.n_units = len(self.unit_start)
        self.unit_clause = self.clause[self.unit_start]
        self.unit_item = self.rows.item[self.unit_start]
        self.unit_size = np.diff(np.append(self.unit_start, n))
        # Each pair once, the reviewer with the lower account id (lower index) on the left:
        # the same for every version of the labels.
        left, right = _pairs_by_position(self.unit)
        swap = self.reviewer[left] > self.reviewer[right]
        self.left = np.where(swap, right, left)
        self.right = np.where(swap, left, right)
        self.pair_reviewers = (
            self.reviewer[self.left] * self.n_reviewers + self.reviewer[self.right]
        )
        self.pair_clause = self.clause[self.left]

    def unit_of(self, item_ids: np.ndarray, clause_ids: np.ndarray) -> np.ndarray:
        """The unit of each (item, clause), -1 where no human label in scope is on that pair."""
        if not self.n_units or not len(item_ids):
            return np.full(len(item_ids), -1, dtype=np.int64)
        # Units are sorted by (clause id, item id): one composite key of the clause id's rank
        # and the item id, one searchsorted.
        span = int(max(self.unit_item.max(), item_ids.max())) + 1
        ranked = np.sort(self.clause_ids)
        keys = np.searchsorted(ranked, self.rows.clause[self.unit_start]) * span + self.unit_item
        in_scope = _positions(self.clause_ids, clause_ids) >= 0
        wanted = np.searchsorted(ranked, clause_ids) * span + item_ids
        at = np.clip(np.searchsorted(keys, wanted), 0, self.n_units - 1)
        return np.where(in_scope & (keys[at] == wanted), at, -1)

    def row_of(self, units: np.ndarray, owners: np.ndarray) -> np.ndarray:
        """The row of each (unit, reviewer id) label, -1 where there is none."""
        found = np.full(len(units), -1, dtype=np.int64)
        if not len(units) or not self.n_units:
            return found
        known = units >= 0
        start = np.where(known, self.unit_start[np.maximum(units, 0)], 0)
        size = np.where(known, self.unit_size[np.maximum(units, 0)], 0)
        # A unit holds a handful of labels (k reviewers): try each place in it.
        for offset in range(int(size.max(initial=0))):
            at = np.minimum(start + offset, len(self.rows) - 1)
            hit = (offset < size) & (self.rows.owner[at] == owners) & (found < 0)
            found[hit] = at[hit]
        return found

    def gold_codes(self, gold: list[tuple[int, int, str, str]], verdicts: list[str]) -> np.ndarray:
        """The adjudicated verdict code of each unit (-1: none)."""
        codes = np.full(self.n_units, -1, dtype=np.int64)
        if not gold or not self.n_units:
            return codes
        index = {v: i for i, v in enumerate(verdicts)}
        units = self.unit_of(
            np.array([g[0] for g in gold], dtype=np.int64),
            np.array([g[1] for g in gold], dtype=np.int64),
        )
        values = np.array([index.get(g[2], -1) for g in gold], dtype=np.int64)
        codes[units[units >= 0]] = values[units >= 0]
        return codes


def _distinct_ids(ids: np.ndarray) -> np.ndarray:
    """The sorted distinct ids: by a presence table when ids are dense enough, as table ids
    are, which is many times faster than sorting a million and a half of them."""
    if not len(ids):
        return np.zeros(0, dtype=np.int64)
    low, high = int(ids.min()), int(ids.max())
    if high - low < 8 * len(ids) + 1_000_000:
        present = np.zeros(high - low + 1, dtype=bool)
        present[ids - low] = True
        return np.nonzero(present)[0] + low
    return np.unique(ids)


def _positions(scope: np.ndarray, clause_ids: np.ndarray) -> np.ndarray:
    """Each clause id's position in the campaign's scope, -1 for a clause out of it."""
    if not len(scope):
        return np.full(len(clause_ids), -1, dtype=np.int64)
    order = np.argsort(scope)
    at = np.clip(np.searchsorted(scope[order], clause_ids), 0, len(scope) - 1)
    return np.where(scope[order][at] == clause_ids, order[at], -1)


def _pairs_by_position(unit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every pair of rows (left < right) in the same unit, units being contiguous runs. A pair
    at distance d implies one at every smaller distance, so each round only tests the previous
    round's survivors."""
    lefts, rights = [], []
    n = len(unit)
    candidates = np.arange(max(n - 1, 0))
    distance = 0
    while len(candidates):
        distance += 1
        candidates = candidates[candidates + distance < n]
        candidates = candidates[unit[candidates + distance] == unit[candidates]]
        lefts.append(candidates)
        rights.append(candidates + distance)
    if not lefts:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    return np.concatenate(lefts), np.concatenate(rights)


class _Tables:
    """One version's count table (units × q), compressed per clause: the distinct count vectors
    of the units with two verdicts or more, and how many units have each.

    The units × q table is never built: each unit's count vector is one number in base
    (k + 1), k the most verdicts any unit has (Σ over its verdicts of base ** code), and the
    distinct (clause, number) pairs are counted at once. The numbers order count vectors as
    ``metrics.distinct_counts`` does, so the bootstrap draws are those of the full table."""

    def __init__(self, frame: _Frame, codes: np.ndarray, q: int) -> None:
        self.q = q
        units = frame.unit
        if len(codes) and codes.min() < 0:  # verdicts off the scale count for nothing
            keep = codes >= 0
            units, codes = units[keep], codes[keep]
        sizes = np.bincount(units, minlength=frame.n_units)
        base = int(sizes.max(initial=0)) + 1
        span = float(base) ** q
        if span * max(frame.n_clauses, 1) < 2**52:
            powers = base ** np.arange(q, dtype=np.int64)
            # Float weights are exact below 2**53.
            number = np.bincount(
                units, weights=powers.astype(float)[codes], minlength=frame.n_units
            )
            pairable = sizes >= 2
            key = frame.unit_clause[pairable] * int(span) + np.rint(number[pairable]).astype(
                np.int64
            )
            found, freq = np.unique(key, return_counts=True)
            clause_of = found // int(span)
            digits = (found % int(span))[:, None] // powers[None, :] % base
            self.by_clause = [
                (digits[clause_of == c], freq[clause_of == c]) for c in range(frame.n_clauses)
            ]
        else:  # a long scale and many raters: count vectors as rows
            table = np.bincount(units * q + codes, minlength=frame.n_units * q)
            table = table.reshape(frame.n_units, q)
            pairable = sizes >= 2
            table, unit_clause = table[pairable], frame.unit_clause[pairable]
            self.by_clause = [
                metrics.distinct_counts(table[unit_clause == c]) for c in range(frame.n_clauses)
            ]
        rows = [r for r, _ in self.by_clause]
        freqs = [f for _, f in self.by_clause]
        self.overall = metrics.distinct_counts(
            np.concatenate(rows) if rows else np.zeros((0, q), dtype=np.int64),
            np.concatenate(freqs) if freqs else np.zeros(0, dtype=np.int64),
        )

    def get(self, clause: int | None) -> tuple[np.ndarray, np.ndarray]:
        return self.overall if clause is None else self.by_clause[clause]


class _LabelSet:
    """One version of the human labels (final, or first submissions) over a ``_Frame``."""

    def __init__(self, frame: _Frame, verdict: np.ndarray, severity: np.ndarray) -> None:
        self.frame = frame
        self.verdict = verdict
        self.severity = severity
        self._tables: dict[str, _Tables] = {}
        self._pair_count_cache: tuple[np.ndarray, np.ndarray] | None = None

    def _table(self, name: str, q: int) -> _Tables:
        if name not in self._tables:
            codes = self.verdict if name == "verdict" else self.severity
            self._tables[name] = _Tables(self.frame, codes, q)
        return self._tables[name]

    def coefficients(self, options: _Options, *, clause: int | None = None) -> dict[str, Any]:
        rows, freq = self._table("verdict", options.q).get(clause)
        counts = {"frequencies": freq}
        boot = {"bootstrap": BOOTSTRAP_DRAWS, "seed": BOOTSTRAP_SEED, **counts}
        out: dict[str, Any] = {
            "alpha_nominal": metrics.krippendorff_alpha_counts(
                rows, level="nominal", **boot
            ).as_dict(),
            "fleiss_kappa": metrics.fleiss_kappa_counts(rows, **counts).as_dict(),
            "gwet_ac1": metrics.gwet_ac1_counts(rows, **boot).as_dict(),
            "percent_agreement": metrics.percent_agreement_counts(rows, **counts).as_dict(),
        }
        if options.verdict_ordered:
            out["alpha_ordinal"] = metrics.krippendorff_alpha_counts(
                rows, level="ordinal", **boot
            ).as_dict()
        rows, freq = self._table("severity", options.q_severity).get(clause)
        level = "ordinal" if options.severity_ordered else "nominal"
        out["severity_alpha"] = metrics.krippendorff_alpha_counts(
            rows, level=level, bootstrap=BOOTSTRAP_DRAWS, seed=BOOTSTRAP_SEED, frequencies=freq
        ).as_dict()
        return out

    def _pair_counts(self, q: int) -> tuple[np.ndarray, np.ndarray]:
        """The pairs of verdicts on the same unit, counted two ways: by (reviewer a, reviewer
        b, a's verdict, b's verdict) pooled over clauses, and by (clause, a's verdict, b's
        verdict); a is the pair's reviewer with the lower account id."""
        if self._pair_count_cache is None:
            frame = self.frame
            va, vb = self.verdict[frame.left], self.verdict[frame.right]
            both = va * q + vb
            by_reviewers = frame.pair_reviewers * (q * q) + both
            by_clause = frame.pair_clause * (q * q) + both
            if len(both) and min(va.min(), vb.min()) < 0:
                keep = (va >= 0) & (vb >= 0)
                by_reviewers, by_clause = by_reviewers[keep], by_clause[keep]
            r, n = frame.n_reviewers, frame.n_clauses
            self._pair_count_cache = (
                np.bincount(by_reviewers, minlength=r * r * q * q).reshape(r, r, q, q),
                np.bincount(by_clause, minlength=n * q * q).reshape(n, q, q),
            )
        return self._pair_count_cache

    def _pair_confusion(self, q: int) -> np.ndarray:
        """(reviewer a, reviewer b, a's verdict, b's verdict) counts, pooled over clauses."""
        return self._pair_counts(q)[0]

    def clause_confusion(self, q: int, clause: int) -> np.ndarray:
        """Verdict pairs on one clause: rows the verdict of the pair's reviewer with the lower
        account id."""
        return self._pair_counts(q)[1][clause]

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
        """Each reviewer's verdicts against every other verdict on the same units. ``n_items``:
        the units where they and someone else gave a verdict; ``n_labels``: every verdict on
        those units."""
        cm = self._pair_confusion(q)
        frame = self.frame
        given = self.verdict >= 0
        verdicts_on_unit = np.bincount(frame.unit[given], minlength=frame.n_units)
        shared = given & (verdicts_on_unit[frame.unit] >= 2)
        r = frame.n_reviewers
        items = np.bincount(frame.reviewer[shared], minlength=r)
        labels = np.bincount(
            frame.reviewer[shared], weights=verdicts_on_unit[frame.unit[shared]], minlength=r
        )
        out = []
        for i in range(r):
            mine = cm[i].sum(axis=0) + cm[:, i].sum(axis=0).T
            estimate = _two_way(mine)
            estimate["n_items"] = int(items[i])
            estimate["n_labels"] = int(labels[i])
            out.append(estimate)
        return out

    def against_gold(self, q: int, gold: np.ndarray) -> list[dict[str, Any]]:
        reference = gold[self.frame.unit] if len(gold) else np.zeros(0, dtype=np.int64)
        keep = (reference >= 0) & (self.verdict >= 0)
        r = self.frame.n_reviewers
        flat = (self.frame.reviewer[keep] * q + self.verdict[keep]) * q + reference[keep]
        cm = np.bincount(flat, minlength=r * q * q).reshape(r, q, q)
        return [_two_way(cm[i]) for i in range(r)]


def _two_way(matrix: np.ndarray) -> dict[str, Any]:
    """Cohen's kappa and percent agreement of one rater against a reference (pairs of labels):
    ``n_items`` the (item, clause) pairs compared, ``n_labels`` the rater's verdicts on them."""
    estimate = metrics.cohen_kappa_confusion(matrix).as_dict()
    total = int(matrix.sum())
    estimate["percent_agreement"] = float(np.trace(matrix) / total) if total else None
    estimate["n_pairs"] = total
    estimate["n_labels"] = total
    estimate["confusion"] = matrix.tolist()
    return estimate


def _first_submissions(campaign: Campaign, frame: _Frame) -> tuple[np.ndarray, np.ndarray]:
    """Verdict and severity codes of each label as first submitted: the ``before`` of its
    earliest ``revise`` history row where it has one, else the label as it is."""
    verdict = frame.rows.verdict.copy()
    severity = frame.rows.severity.copy()
    verdict_sql, verdict_params = _position_sql(
        "r.before->>'verdict'", _scale_values(campaign.verdict_scale)
    )
    severity_sql, severity_params = _position_sql(
        "r.before->>'severity'", _scale_values(campaign.severity_scale)
    )
    # The (item, clause, reviewer) of each revised label rather than its id: the label rows
    # come from an index that does not hold ids, and a unit's labels are easy to find.
    # Revisions after submitting are rare (disputed pairs only): walk them through their
    # partial index and look each label up by id (OFFSET 0 keeps the planner from turning
    # that into a scan of the campaign's labels).
    sql = f"""
        SELECT DISTINCT ON (r.label_id) l.item_id, l.clause_id, l.reviewer_id,
               {verdict_sql}, {severity_sql}
        FROM reviews_labelrevision r
        CROSS JOIN LATERAL (
            SELECT l.item_id, l.clause_id, l.reviewer_id FROM reviews_label l
            WHERE l.id = r.label_id AND l.campaign_id = %s AND l.source = 'human'
              AND l.status = 'submitted'
            OFFSET 0
        ) AS l
        WHERE r.kind = 'revise'
        ORDER BY r.label_id, r.revision
    """  # noqa: S608 - the interpolated parts are this module's CASE expressions
    with connection.cursor() as cursor:
        cursor.execute(sql, [*verdict_params, *severity_params, campaign.pk])
        revised = cursor.fetchall()
    if revised and len(frame.rows):
        table = np.array(revised, dtype=np.int64)
        units = frame.unit_of(table[:, 0], table[:, 1])
        rows = frame.row_of(units, table[:, 2])
        found = rows >= 0
        verdict[rows[found]] = table[found, 3]
        severity[rows[found]] = table[found, 4]
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
    rows: _Rows,
    frame: _Frame,
    gold: np.ndarray,
    q: int,
    campaign: Campaign | None = None,
    clauses: list[tuple[int, str, str]] | None = None,
    reviewer_ids: np.ndarray | None = None,
) -> list[dict[str, Any]]:
    """Each judge run's labels against adjudicated gold, like a reviewer's; and per clause,
    against gold (kappa, percent, alpha) and against each human reviewer, with the run's prompt
    version, so a team sees on which clauses a judge may pre-screen."""
    if not len(rows):
        return []
    units = frame.unit_of(rows.item, rows.clause)
    reference = np.where(units >= 0, gold[np.maximum(units, 0)] if len(gold) else -1, -1)
    runs = {}
    if campaign is not None:
        runs = {
            pk: (version, name)
            for pk, version, name in JudgeRun.objects.filter(campaign=campaign).values_list(
                "pk", "prompt_version", "endpoint__name"
            )
        }
    clauses = clauses or []
    reviewer_ids = reviewer_ids if reviewer_ids is not None else np.zeros(0, dtype=np.int64)
    position = _positions(frame.clause_ids, rows.clause)
    out = []
    for run_id in np.unique(rows.owner).tolist():
        mine = rows.owner == run_id
        verdict = rows.verdict[mine]
        keep = (reference[mine] >= 0) & (verdict >= 0)
        matrix = np.bincount(verdict[keep] * q + reference[mine][keep], minlength=q * q)
        version, endpoint = runs.get(int(run_id), ("", ""))
        out.append(
            {
                "judge_run_id": int(run_id),
                "prompt_version": version,
                "endpoint": endpoint,
                "labels": int(mine.sum()),
                "with_gold": _two_way(matrix.reshape(q, q)),
                "clauses": _judge_clauses(
                    frame,
                    q,
                    clauses,
                    reviewer_ids,
                    clause=position[mine],
                    unit=units[mine],
                    verdict=verdict,
                    reference=reference[mine],
                ),
            }
        )
    return out


def _judge_clauses(
    frame: _Frame,
    q: int,
    clauses: list[tuple[int, str, str]],
    reviewer_ids: np.ndarray,
    *,
    clause: np.ndarray,
    unit: np.ndarray,
    verdict: np.ndarray,
    reference: np.ndarray,
) -> list[dict[str, Any]]:
    """One judge run per clause: against gold, and against each reviewer on the pairs both
    labeled. ``alpha_nominal`` is Krippendorff's alpha of the two raters."""
    n, r = len(clauses), frame.n_reviewers
    keep = (reference >= 0) & (verdict >= 0) & (clause >= 0)
    gold_cm = np.bincount(
        (clause[keep] * q + verdict[keep]) * q + reference[keep], minlength=n * q * q
    ).reshape(n, q, q)
    # The judge's verdict beside each human verdict on the same unit (k labels at most).
    pair_clause, pair_reviewer, pair_judge, pair_human = [], [], [], []
    known = (unit >= 0) & (verdict >= 0) & (clause >= 0)
    if known.any() and frame.n_units:
        u = unit[known]
        start, size = frame.unit_start[u], frame.unit_size[u]
        for offset in range(int(size.max(initial=0))):
            hit = offset < size
            at = np.minimum(start + offset, len(frame.rows) - 1)
            human = frame.rows.verdict[at]
            hit &= human >= 0
            pair_clause.append(clause[known][hit])
            pair_reviewer.append(frame.reviewer[at][hit])
            pair_judge.append(verdict[known][hit])
            pair_human.append(human[hit])
    human_cm = np.zeros((n, r, q, q), dtype=np.int64)
    if pair_clause:
        flat = (
            (np.concatenate(pair_clause) * r + np.concatenate(pair_reviewer)) * q
            + np.concatenate(pair_judge)
        ) * q + np.concatenate(pair_human)
        human_cm = np.bincount(flat, minlength=n * r * q * q).reshape(n, r, q, q)
    out = []
    for index, (clause_id, key, title) in enumerate(clauses):
        with_reviewers = []
        for reviewer in range(r):
            matrix = human_cm[index, reviewer]
            if matrix.sum():
                with_reviewers.append(
                    {"reviewer_id": int(reviewer_ids[reviewer]), **_two_raters(matrix)}
                )
        out.append(
            {
                "clause_id": clause_id,
                "key": key,
                "title": title,
                "labels": int(((clause == index) & (verdict >= 0)).sum()),
                "with_gold": _two_raters(gold_cm[index]),
                "with_reviewers": with_reviewers,
            }
        )
    return out


def _two_raters(matrix: np.ndarray) -> dict[str, Any]:
    """``_two_way`` plus Krippendorff's alpha (nominal) of the two raters: each compared pair is
    a unit holding one verdict of each."""
    estimate = _two_way(matrix)
    q = matrix.shape[0]
    cells = np.argwhere(matrix > 0)
    if len(cells):
        table = np.zeros((len(cells), q), dtype=np.int64)
        np.add.at(table, (np.arange(len(cells)), cells[:, 0]), 1)
        np.add.at(table, (np.arange(len(cells)), cells[:, 1]), 1)
        alpha = metrics.krippendorff_alpha_counts(
            table, level="nominal", frequencies=matrix[cells[:, 0], cells[:, 1]]
        ).as_dict()
    else:
        alpha = metrics.krippendorff_alpha_counts(
            np.zeros((0, q), dtype=np.int64), level="nominal"
        ).as_dict()
    estimate["alpha_nominal"] = alpha
    return estimate
