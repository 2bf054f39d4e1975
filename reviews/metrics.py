"""Inter-rater agreement: Krippendorff's alpha, Fleiss' kappa, Cohen's kappa, Gwet's AC1,
percent agreement, confusion matrices and bootstrap intervals. Framework-free (numpy only).

Input
-----
A *ratings matrix*: a float array of shape ``(units, raters)``; each cell is a category code
(``0 … q-1``, an index into the scale) or ``NaN`` where that rater did not rate that unit.
:func:`encode` turns labels (any hashable values) into such a matrix. The scale's order is the
order of the codes, which the ordinal metric uses; the interval metric uses ``values`` (by
default the codes themselves).

Most coefficients only need, per unit, how many ratings fell in each category: a *count table*
of shape ``(units, q)`` (:func:`category_counts`). Everything below is computed from count
tables and coincidence matrices, so a bootstrap draw is a weighted sum of per-unit
contributions rather than a loop over units.

Conventions the literature shares, and this module follows
----------------------------------------------------------
* Units with fewer than two ratings are left out (they carry no information on agreement).
  Every result says how many units (``n_items``) and ratings (``n_labels``) it used.
* Gwet's chance term averages each unit's category shares over the units it uses; Gwet (2014)
  averages over every unit with at least one rating. ``chance_units="all"`` reproduces his
  figures exactly; the default, ``"pairable"``, keeps the rule above for every coefficient.
* Fleiss' kappa comes in two forms: ``"varying"`` (the default; Fleiss' 1971 statistic
  generalised to a varying number of raters per unit, as in Gwet 2014 §2.5: the agreement of a
  unit is the share of agreeing ordered pairs of its ratings, chance is Σ πₖ² with πₖ the mean
  share of category k per unit) and ``"complete"`` (Fleiss 1971 on the units rated by all k
  raters only). Both equal Fleiss 1971 on complete data. The result names its form.
* A coefficient whose chance disagreement is zero (a single category used) is undefined:
  ``value`` is ``None``.

Weighted count tables
---------------------
Every ``*_counts`` function also takes ``frequencies``: then ``counts`` holds count vectors and
``frequencies`` how many units have each one (:func:`distinct_counts` makes such a pair). This
is the same table, compressed: with three raters and four categories there are at most a few
dozen distinct vectors however many units there are, so a report can build each table once and
hand every coefficient its compressed form. Results are identical to the uncompressed table's.

Bootstrap
---------
Percentile intervals from resampling units with replacement (``draws`` times, 1,000 by
default, with ``numpy.random.default_rng(seed)``). Units with identical count vectors
contribute identically, so a resample is drawn as a multinomial over the distinct count
vectors (exactly the distribution of unit resampling) and each draw's statistic is a matrix
product: 100,000 units × 1,000 draws cost milliseconds.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

Level = Literal["nominal", "ordinal", "interval"]
ChanceUnits = Literal["pairable", "all"]

DEFAULT_DRAWS = 1000
DEFAULT_SEED = 20251218
CONFIDENCE = 0.95
# Bound on the cells of one block of bootstrap weights (draws × distinct units), so memory
# stays small even when nearly every unit has its own count vector.
_BLOCK_CELLS = 4_000_000


@dataclass(frozen=True)
class Estimate:
    """One coefficient: its value (None when undefined), what it used, and its interval."""

    metric: str
    value: float | None
    n_items: int
    n_labels: int
    ci_low: float | None = None
    ci_high: float | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "metric": self.metric,
            "value": self.value,
            "n_items": self.n_items,
            "n_labels": self.n_labels,
        }
        if self.ci_low is not None or self.ci_high is not None or "bootstrap" in self.details:
            out["ci_low"] = self.ci_low
            out["ci_high"] = self.ci_high
        out.update(self.details)
        return out


# ---------------------------------------------------------------- input ---------------------


def encode(
    labels: Sequence[Sequence[Hashable | None]], scale: Sequence[Hashable] | None = None
) -> tuple[np.ndarray, list[Hashable]]:
    """Turn a units × raters table of labels (``None`` or ``""`` for missing) into a ratings
    matrix and the scale its codes index. ``scale`` fixes the categories and their order;
    without it the observed values, sorted, are used. A label outside ``scale`` is a ValueError."""
    if scale is None:
        scale = sorted({v for row in labels for v in row if v is not None and v != ""})  # type: ignore[type-var]
    index = {v: i for i, v in enumerate(scale)}
    n_raters = max((len(row) for row in labels), default=0)
    matrix = np.full((len(labels), n_raters), np.nan)
    for u, row in enumerate(labels):
        for r, v in enumerate(row):
            if v is None or v == "":
                continue
            if v not in index:
                raise ValueError(f"unit {u}, rater {r}: {v!r} is not in the scale")
            matrix[u, r] = index[v]
    return matrix, list(scale)


def _codes(ratings: np.ndarray, n_categories: int | None) -> tuple[np.ndarray, np.ndarray, int]:
    ratings = np.asarray(ratings, dtype=float)
    if ratings.ndim != 2:
        raise ValueError("ratings must be a units × raters matrix")
    present = ~np.isnan(ratings)
    codes = np.where(present, ratings, 0).astype(np.int64)
    if present.any():
        if (codes[present] != ratings[present]).any() or codes[present].min() < 0:
            raise ValueError("ratings must be non-negative integer category codes or NaN")
        observed = int(codes[present].max()) + 1
    else:
        observed = 0
    q = observed if n_categories is None else n_categories
    if observed > q:
        raise ValueError(f"a code is {observed - 1}, outside a scale of {q} categories")
    return codes, present, q


def category_counts(ratings: np.ndarray, n_categories: int | None = None) -> np.ndarray:
    """The count table ``(units, q)``: how many ratings of each unit fell in each category."""
    codes, present, q = _codes(ratings, n_categories)
    units = np.broadcast_to(np.arange(ratings.shape[0])[:, None], codes.shape)
    flat = units[present] * q + codes[present]
    return np.bincount(flat, minlength=ratings.shape[0] * q).reshape(ratings.shape[0], q)


def _pairable(counts: np.ndarray) -> np.ndarray:
    counts = np.asarray(counts)
    return counts[counts.sum(axis=1) >= 2]


def _weighted(counts: np.ndarray, frequencies: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """A count table and each row's number of units (1 each when ``frequencies`` is None)."""
    counts = np.asarray(counts)
    if frequencies is None:
        return counts, np.ones(counts.shape[0], dtype=np.int64)
    freq = np.asarray(frequencies, dtype=np.int64)
    if freq.shape != (counts.shape[0],):
        raise ValueError("frequencies must give one number of units for each row of counts")
    keep = freq > 0
    return counts[keep], freq[keep]


def _pairable_weighted(
    counts: np.ndarray, frequencies: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    table, freq = _weighted(counts, frequencies)
    keep = table.sum(axis=1) >= 2
    return table[keep], freq[keep]


def distinct_counts(
    counts: np.ndarray, frequencies: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of a count table, in a fixed order (lexicographic on the reversed
    row), and how many units have each: the compressed table every ``*_counts`` function
    accepts as ``counts=rows, frequencies=freq``."""
    table, freq = _weighted(counts, frequencies)
    return _distinct(table, freq)


# ---------------------------------------------------------------- bootstrap -----------------


def _distinct(
    table: np.ndarray, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows of a count table and how many units each stands for (each row counts
    ``weights[i]`` units, 1 without weights), ordered by the reversed row."""
    if weights is None:
        weights = np.ones(table.shape[0], dtype=np.int64)
    if table.shape[0] == 0:
        return table, np.zeros(0, dtype=np.int64)
    base = int(table.max()) + 1
    if float(base) ** table.shape[1] < 2**62:
        # Each row as one integer in base (max count + 1): a 1-D unique is far faster than
        # numpy's row-wise unique, which sorts a structured view. The order of the keys does
        # not depend on the base, so compressed and plain tables resample alike.
        powers = base ** np.arange(table.shape[1], dtype=np.int64)
        _, first, inverse = np.unique(
            table.astype(np.int64) @ powers, return_index=True, return_inverse=True
        )
    else:
        _, first, inverse = np.unique(table, axis=0, return_index=True, return_inverse=True)
    freq = np.bincount(inverse.ravel(), weights=weights, minlength=len(first))
    return table[first], np.rint(freq).astype(np.int64)


def _weight_blocks(freq: np.ndarray, draws: int, seed: int):
    """Yield blocks of bootstrap weights, shape (block, distinct rows): how many times each
    distinct row appears in a resample of ``freq.sum()`` units."""
    rng = np.random.default_rng(seed)
    n = int(freq.sum())
    p = freq / n
    block = max(1, min(draws, _BLOCK_CELLS // max(1, len(freq))))
    done = 0
    while done < draws:
        size = min(block, draws - done)
        yield rng.multinomial(n, p, size=size).astype(float)
        done += size


def _interval(values: np.ndarray) -> tuple[float | None, float | None]:
    values = values[np.isfinite(values)]
    if values.size == 0:
        return None, None
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def _bootstrap_details(draws: int, seed: int) -> dict[str, Any]:
    return {
        "bootstrap": {
            "draws": draws,
            "seed": seed,
            "confidence": CONFIDENCE,
            "method": "percentile, resampling items",
        }
    }


# ---------------------------------------------------------------- Krippendorff --------------


def coincidences(counts: np.ndarray) -> np.ndarray:
    """Krippendorff's coincidence matrix (q × q) of a count table; units with fewer than two
    ratings add nothing."""
    return _unit_coincidences(_pairable(counts)).sum(axis=0)


def _unit_coincidences(counts: np.ndarray) -> np.ndarray:
    """Per unit: (n nᵀ − diag n) / (m − 1), shape (units, q, q). Rows sum to the unit's counts."""
    counts = np.asarray(counts, dtype=float)
    m = counts.sum(axis=1)
    outer = counts[:, :, None] * counts[:, None, :]
    q = counts.shape[1]
    outer[:, np.arange(q), np.arange(q)] -= counts
    return outer / (m - 1)[:, None, None]


def _squared_distances(
    level: Level, marginals: np.ndarray, values: np.ndarray | None
) -> np.ndarray:
    """δ² for each pair of categories, shape (..., q, q); ``marginals`` is (..., q)."""
    q = marginals.shape[-1]
    if level == "nominal":
        return np.broadcast_to(1.0 - np.eye(q), (*marginals.shape[:-1], q, q))
    if level == "interval":
        v = np.arange(q, dtype=float) if values is None else np.asarray(values, dtype=float)
        if v.shape != (q,):
            raise ValueError(f"values must give one number for each of the {q} categories")
        d = (v[:, None] - v[None, :]) ** 2
        return np.broadcast_to(d, (*marginals.shape[:-1], q, q))
    if level == "ordinal":
        # δ_ck = Σ_{g=c..k} n_g − (n_c + n_k)/2, with n_g the coincidence marginals.
        cum = np.cumsum(marginals, axis=-1)
        low = np.minimum.outer(np.arange(q), np.arange(q))
        high = np.maximum.outer(np.arange(q), np.arange(q))
        between = cum[..., high] - cum[..., low] + marginals[..., low]
        half = (marginals[..., :, None] + marginals[..., None, :]) / 2
        return (between - half) ** 2
    raise ValueError(f"unknown level of measurement {level!r}")


def _alpha_from_coincidences(o: np.ndarray, level: Level, values: np.ndarray | None) -> np.ndarray:
    """Alpha for a batch of coincidence matrices (..., q, q); NaN where undefined."""
    marginals = o.sum(axis=-1)
    n = marginals.sum(axis=-1)
    delta = _squared_distances(level, marginals, values)
    observed = (o * delta).sum(axis=(-2, -1))
    expected = (marginals[..., :, None] * marginals[..., None, :] * delta).sum(axis=(-2, -1))
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = 1.0 - (n - 1) * observed / expected
    return np.where(expected > 0, alpha, np.nan)


def krippendorff_alpha_counts(
    counts: np.ndarray,
    *,
    level: Level = "nominal",
    values: Sequence[float] | None = None,
    bootstrap: int = 0,
    seed: int = DEFAULT_SEED,
    frequencies: np.ndarray | None = None,
) -> Estimate:
    """Krippendorff's alpha from a count table (units × q). ``values`` are the interval
    metric's numbers per category. ``bootstrap`` > 0 adds a percentile interval.
    ``frequencies``: see the module (compressed tables)."""
    table, weights = _pairable_weighted(counts, frequencies)
    v = None if values is None else np.asarray(values, dtype=float)
    q = table.shape[1]
    rows, freq = _distinct(table, weights)
    per_row = _unit_coincidences(rows).reshape(len(rows), q * q)
    o = (freq.astype(float) @ per_row).reshape(q, q) if len(rows) else np.zeros((q, q))
    value = _alpha_from_coincidences(o, level, v)
    details: dict[str, Any] = {"level": level}
    low = high = None
    if bootstrap and table.shape[0]:
        samples = np.concatenate(
            [
                _alpha_from_coincidences((w @ per_row).reshape(-1, q, q), level, v)
                for w in _weight_blocks(freq, bootstrap, seed)
            ]
        )
        low, high = _interval(samples)
        details |= _bootstrap_details(bootstrap, seed)
    return Estimate(
        metric=f"krippendorff_alpha_{level}",
        value=_finite(value),
        n_items=int(freq.sum()),
        n_labels=int(freq @ rows.sum(axis=1)) if len(rows) else 0,
        ci_low=low,
        ci_high=high,
        details=details,
    )


def krippendorff_alpha(
    ratings: np.ndarray,
    *,
    level: Level = "nominal",
    n_categories: int | None = None,
    values: Sequence[float] | None = None,
    bootstrap: int = 0,
    seed: int = DEFAULT_SEED,
) -> Estimate:
    """Krippendorff's alpha of a ratings matrix (units × raters, NaN for missing)."""
    return krippendorff_alpha_counts(
        category_counts(ratings, n_categories),
        level=level,
        values=values,
        bootstrap=bootstrap,
        seed=seed,
    )


# ---------------------------------------------------------------- Gwet, Fleiss, percent -----


def _unit_terms(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per unit: the share of agreeing ordered pairs (0 for units with < 2 ratings), the
    category shares r_uk / r_u, and whether the unit is pairable."""
    counts = np.asarray(counts, dtype=float)
    m = counts.sum(axis=1)
    pairable = m >= 2
    with np.errstate(divide="ignore", invalid="ignore"):
        agree = np.where(pairable, (counts * (counts - 1)).sum(axis=1) / (m * (m - 1)), 0.0)
        shares = np.where(m[:, None] > 0, counts / m[:, None], 0.0)
    return agree, shares, pairable.astype(float)


def _chance_corrected(
    weights: np.ndarray,
    agree: np.ndarray,
    shares: np.ndarray,
    pairable: np.ndarray,
    kind: Literal["ac1", "fleiss"],
) -> np.ndarray:
    """(pa − pe) / (1 − pe) for a batch of unit weights (..., units)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        pa = (weights @ agree) / (weights @ pairable)
        pi = (weights @ shares) / weights.sum(axis=-1)[..., None]
        q = shares.shape[1]
        if kind == "ac1":
            pe = (pi * (1 - pi)).sum(axis=-1) / (q - 1) if q > 1 else np.full(pa.shape, np.nan)
        else:
            pe = (pi**2).sum(axis=-1)
        value = (pa - pe) / (1 - pe)
    return np.where(np.isclose(pe, 1.0) | ~np.isfinite(value), np.nan, value)


def _chance_table(
    counts: np.ndarray, chance_units: ChanceUnits, frequencies: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    table, freq = _weighted(counts, frequencies)
    m = table.sum(axis=1)
    if chance_units == "all":
        keep = m >= 1
    elif chance_units == "pairable":
        keep = m >= 2
    else:
        raise ValueError(f"chance_units must be 'pairable' or 'all', not {chance_units!r}")
    return table[keep], freq[keep]


def gwet_ac1_counts(
    counts: np.ndarray,
    *,
    chance_units: ChanceUnits = "pairable",
    bootstrap: int = 0,
    seed: int = DEFAULT_SEED,
    frequencies: np.ndarray | None = None,
) -> Estimate:
    """Gwet's AC1 (Gwet 2014, eq. 2.29 with missing ratings) from a count table whose columns
    are the whole scale (q counts unobserved categories too: AC1's chance term depends on it).

    pa = mean over units with ≥ 2 ratings of Σₖ r_uk(r_uk − 1) / (r_u(r_u − 1));
    πₖ = mean over the chance units of r_uk / r_u; pe = Σₖ πₖ(1 − πₖ) / (q − 1).
    """
    table, weights = _chance_table(counts, chance_units, frequencies)
    rows, freq = _distinct(table, weights)
    r_agree, r_shares, r_pairable = _unit_terms(rows)
    value = _chance_corrected(freq.astype(float), r_agree, r_shares, r_pairable, "ac1")
    details: dict[str, Any] = {"chance_units": chance_units, "categories": int(table.shape[1])}
    low = high = None
    if bootstrap and r_pairable.any():
        samples = np.concatenate(
            [
                _chance_corrected(w, r_agree, r_shares, r_pairable, "ac1")
                for w in _weight_blocks(freq, bootstrap, seed)
            ]
        )
        low, high = _interval(samples)
        details |= _bootstrap_details(bootstrap, seed)
    used = r_pairable > 0
    return Estimate(
        metric="gwet_ac1",
        value=_finite(value),
        n_items=int(freq[used].sum()),
        n_labels=int(freq[used] @ rows[used].sum(axis=1)) if used.any() else 0,
        ci_low=low,
        ci_high=high,
        details=details,
    )


def gwet_ac1(
    ratings: np.ndarray,
    *,
    n_categories: int | None = None,
    chance_units: ChanceUnits = "pairable",
    bootstrap: int = 0,
    seed: int = DEFAULT_SEED,
) -> Estimate:
    """Gwet's AC1 of a ratings matrix (units × raters, NaN for missing)."""
    return gwet_ac1_counts(
        category_counts(ratings, n_categories),
        chance_units=chance_units,
        bootstrap=bootstrap,
        seed=seed,
    )


def fleiss_kappa_counts(
    counts: np.ndarray,
    *,
    form: Literal["varying", "complete"] = "varying",
    raters_per_item: int | None = None,
    chance_units: ChanceUnits = "pairable",
    frequencies: np.ndarray | None = None,
) -> Estimate:
    """Fleiss' kappa from a count table. ``form="varying"``: every unit with ≥ 2 ratings, the
    generalisation to a varying number of raters (Gwet 2014 §2.5). ``form="complete"``: Fleiss
    1971 on the units with exactly ``raters_per_item`` ratings (default: the most any unit has)."""
    details: dict[str, Any] = {"form": form}
    if form == "complete":
        counts, weights = _weighted(counts, frequencies)
        m = counts.sum(axis=1)
        k = int(m.max()) if raters_per_item is None and m.size else raters_per_item or 0
        keep = (m == k) & (m >= 2)
        table, weights = counts[keep], weights[keep]
        details["raters_per_item"] = k
    elif form == "varying":
        table, weights = _chance_table(counts, chance_units, frequencies)
        details["chance_units"] = chance_units
    else:
        raise ValueError(f"form must be 'varying' or 'complete', not {form!r}")
    agree, shares, pairable = _unit_terms(table)
    value = _chance_corrected(weights.astype(float), agree, shares, pairable, "fleiss")
    used = pairable > 0
    return Estimate(
        metric="fleiss_kappa",
        value=_finite(value),
        n_items=int(weights[used].sum()),
        n_labels=int(weights[used] @ table[used].sum(axis=1)) if used.any() else 0,
        details=details,
    )


def fleiss_kappa(
    ratings: np.ndarray,
    *,
    form: Literal["varying", "complete"] = "varying",
    raters_per_item: int | None = None,
    n_categories: int | None = None,
    chance_units: ChanceUnits = "pairable",
) -> Estimate:
    """Fleiss' kappa of a ratings matrix (units × raters, NaN for missing)."""
    return fleiss_kappa_counts(
        category_counts(ratings, n_categories),
        form=form,
        raters_per_item=raters_per_item,
        chance_units=chance_units,
    )


def percent_agreement_counts(
    counts: np.ndarray, *, frequencies: np.ndarray | None = None
) -> Estimate:
    """Mean over units with ≥ 2 ratings of the share of agreeing pairs of ratings."""
    table, weights = _pairable_weighted(counts, frequencies)
    agree, _, _ = _unit_terms(table)
    n = int(weights.sum())
    return Estimate(
        metric="percent_agreement",
        value=float(weights @ agree / n) if n else None,
        n_items=n,
        n_labels=int(weights @ table.sum(axis=1)) if n else 0,
    )


def percent_agreement(ratings: np.ndarray, *, n_categories: int | None = None) -> Estimate:
    """Pairwise percent agreement of a ratings matrix (units × raters, NaN for missing)."""
    return percent_agreement_counts(category_counts(ratings, n_categories))


# ---------------------------------------------------------------- two raters ----------------


def confusion_matrix(
    first: np.ndarray, second: np.ndarray, *, n_categories: int | None = None
) -> np.ndarray:
    """q × q counts of (first's category, second's category) over the units both rated."""
    pair = np.column_stack([np.asarray(first, dtype=float), np.asarray(second, dtype=float)])
    codes, present, q = _codes(pair, n_categories)
    both = present.all(axis=1)
    flat = codes[both, 0] * q + codes[both, 1]
    return np.bincount(flat, minlength=q * q).reshape(q, q)


def cohen_kappa_confusion(matrix: np.ndarray) -> Estimate:
    """Cohen's kappa of a confusion matrix (rows: one rater, columns: the other)."""
    matrix = np.asarray(matrix, dtype=float)
    n = matrix.sum()
    value = None
    if n > 0:
        po = np.trace(matrix) / n
        pe = float((matrix.sum(axis=1) * matrix.sum(axis=0)).sum() / n**2)
        if not np.isclose(pe, 1.0):
            value = float((po - pe) / (1 - pe))
    return Estimate(metric="cohen_kappa", value=value, n_items=int(n), n_labels=int(2 * n))


def cohen_kappa(
    first: np.ndarray, second: np.ndarray, *, n_categories: int | None = None
) -> Estimate:
    """Cohen's kappa of two raters over the units both rated."""
    return cohen_kappa_confusion(confusion_matrix(first, second, n_categories=n_categories))


def pairwise_cohen_kappa(
    ratings: np.ndarray, *, n_categories: int | None = None
) -> list[list[Estimate | None]]:
    """Cohen's kappa for every pair of raters (columns); None on the diagonal."""
    ratings = np.asarray(ratings, dtype=float)
    _, _, q = _codes(ratings, n_categories)
    r = ratings.shape[1]
    table: list[list[Estimate | None]] = [[None] * r for _ in range(r)]
    for a in range(r):
        for b in range(a + 1, r):
            matrix = confusion_matrix(ratings[:, a], ratings[:, b], n_categories=q)
            table[a][b] = cohen_kappa_confusion(matrix)
            table[b][a] = cohen_kappa_confusion(matrix.T)
    return table


def _finite(value: Any) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None
