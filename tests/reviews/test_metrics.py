"""The agreement coefficients, checked against reference implementations and published worked
examples. No database: ``reviews.metrics`` is framework-free.

References (test-only dependencies): ``krippendorff`` (alpha, nominal and ordinal),
``sklearn.metrics.cohen_kappa_score``, ``statsmodels.stats.inter_rater.fleiss_kappa``. irrCAC is
not installable here, so Gwet's AC1 is checked against published figures and against a slow
implementation written below straight from Gwet's formulas.
"""

from __future__ import annotations

import math

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import fleiss_kappa as statsmodels_fleiss

from reviews import metrics

SETS = 120
NAN = np.nan

# Gwet, K. L. (2014), Handbook of Inter-Rater Reliability, 4th ed., p. 120: 4 raters, 12 units,
# 5 categories, with missing ratings; shipped with irrCAC as ``cac.raw4raters`` (see
# search.r-project.org/CRAN/refmans/irrCAC/html/cac.raw4raters.html). Codes are the categories
# 1-5 minus one.
RAW_4_RATERS = (
    np.array(
        [
            [1, 1, NAN, 1],
            [2, 2, 3, 2],
            [3, 3, 3, 3],
            [3, 3, 3, 3],
            [2, 2, 2, 2],
            [1, 2, 3, 4],
            [4, 4, 4, 4],
            [1, 1, 2, 1],
            [2, 2, 2, 2],
            [NAN, 5, 5, 5],
            [NAN, NAN, 1, 1],
            [NAN, NAN, 3, NAN],
        ]
    )
    - 1
)


def random_sets(seed: int, *, complete: bool = False):
    """Label sets of varied shape with missing ratings, each with at least two categories
    among its pairable units (so every coefficient is defined)."""
    rng = np.random.default_rng(seed)
    made = 0
    while made < SETS:
        units = int(rng.integers(4, 60))
        raters = int(rng.integers(2, 7))
        q = int(rng.integers(2, 6))
        # Skewed category probabilities, so some sets agree a lot and some hardly at all.
        p = rng.dirichlet(np.full(q, 0.7))
        ratings = rng.choice(q, size=(units, raters), p=p).astype(float)
        if rng.random() < 0.5:  # agreement above chance: copy a unit's first rating around
            copy = rng.random((units, raters)) < rng.random()
            ratings = np.where(copy, ratings[:, :1], ratings)
        if not complete:
            ratings[rng.random((units, raters)) < rng.uniform(0, 0.5)] = NAN
        counts = metrics.category_counts(ratings, q)
        pairable = counts[counts.sum(axis=1) >= 2]
        if pairable.shape[0] < 2 or (pairable.sum(axis=0) > 0).sum() < 2:
            continue
        made += 1
        yield ratings, q


# ---------------------------------------------------------------- Krippendorff's alpha ------


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval"])
def test_alpha_equals_the_krippendorff_package_on_random_sets_with_missing_ratings(level):
    for ratings, q in random_sets(1):
        ours = metrics.krippendorff_alpha(ratings, level=level, n_categories=q)
        theirs = krippendorff.alpha(
            reliability_data=ratings.T, level_of_measurement=level, value_domain=list(range(q))
        )
        assert ours.value == pytest.approx(theirs, abs=1e-9)


def test_ordinal_alpha_is_unchanged_by_categories_nobody_used():
    ratings = np.array([[0, 2], [2, 2], [0, 0], [4, 2], [4, 4.0]])
    narrow = metrics.krippendorff_alpha(ratings, level="ordinal", n_categories=5).value
    wide = metrics.krippendorff_alpha(ratings, level="ordinal", n_categories=9).value
    assert narrow == pytest.approx(wide, abs=1e-12)


def test_alpha_leaves_out_units_with_one_rating_and_says_what_it_used():
    result = metrics.krippendorff_alpha(RAW_4_RATERS)
    assert (result.n_items, result.n_labels) == (11, 40)  # unit 12 has a single rating
    assert result.value == pytest.approx(
        krippendorff.alpha(reliability_data=RAW_4_RATERS.T, level_of_measurement="nominal"),
        abs=1e-12,
    )


def test_alpha_is_undefined_when_everyone_uses_one_category():
    result = metrics.krippendorff_alpha(np.array([[1, 1], [1, 1], [1, NAN]]))
    assert result.value is None
    assert result.n_items == 2


# ---------------------------------------------------------------- Cohen, Fleiss, percent ----


def test_cohen_kappa_equals_scikit_learn_over_the_units_both_raters_rated():
    for ratings, q in random_sets(2):
        first, second = ratings[:, 0], ratings[:, 1]
        both = ~np.isnan(first) & ~np.isnan(second)
        if both.sum() < 2 or len(set(first[both])) < 2 and len(set(second[both])) < 2:
            continue
        ours = metrics.cohen_kappa(first, second, n_categories=q)
        assert ours.n_items == both.sum()
        assert ours.value == pytest.approx(cohen_kappa_score(first[both], second[both]), abs=1e-9)


def test_the_pairwise_kappa_table_is_symmetric_with_an_empty_diagonal():
    table = metrics.pairwise_cohen_kappa(RAW_4_RATERS)
    assert table[0][0] is None
    assert table[1][3].value == pytest.approx(table[3][1].value, abs=1e-12)
    both = ~np.isnan(RAW_4_RATERS[:, 1]) & ~np.isnan(RAW_4_RATERS[:, 3])
    assert table[1][3].value == pytest.approx(
        cohen_kappa_score(RAW_4_RATERS[both, 1], RAW_4_RATERS[both, 3]), abs=1e-12
    )


def test_the_confusion_matrix_counts_only_units_both_raters_rated():
    first = np.array([0, 0, 1, 2, NAN, 1])
    second = np.array([0, 1, 1, NAN, 2, 1])
    assert metrics.confusion_matrix(first, second, n_categories=3).tolist() == [
        [1, 1, 0],
        [0, 2, 0],
        [0, 0, 0],
    ]


def test_fleiss_kappa_equals_statsmodels_on_complete_data_in_both_forms():
    for ratings, q in random_sets(3, complete=True):
        counts = metrics.category_counts(ratings, q)
        theirs = statsmodels_fleiss(counts, method="fleiss")
        for form in ("varying", "complete"):
            ours = metrics.fleiss_kappa(ratings, form=form, n_categories=q)
            assert ours.value == pytest.approx(theirs, abs=1e-9)
            assert ours.details["form"] == form


def slow_fleiss_varying(ratings: np.ndarray, q: int) -> float:
    """Fleiss' kappa for a varying number of raters, by hand: per unit with r ≥ 2 ratings the
    share of agreeing ordered pairs; chance Σ πₖ², πₖ the mean over those units of rₖ / r."""
    agreements, shares = [], [0.0] * q
    for row in ratings:
        given = [int(v) for v in row if not math.isnan(v)]
        r = len(given)
        if r < 2:
            continue
        pairs = sum(1 for i in range(r) for j in range(r) if i != j and given[i] == given[j])
        agreements.append(pairs / (r * (r - 1)))
        for k in range(q):
            shares[k] += given.count(k) / r
    pa = sum(agreements) / len(agreements)
    pe = sum((s / len(agreements)) ** 2 for s in shares)
    return (pa - pe) / (1 - pe)


def test_fleiss_kappa_for_a_varying_number_of_raters_equals_the_hand_computation():
    for ratings, q in random_sets(4):
        ours = metrics.fleiss_kappa(ratings, form="varying", n_categories=q)
        assert ours.value == pytest.approx(slow_fleiss_varying(ratings, q), abs=1e-9)


def test_the_complete_form_of_fleiss_uses_only_units_rated_by_all_raters():
    result = metrics.fleiss_kappa(RAW_4_RATERS, form="complete")
    assert result.n_items == 8  # the units with four ratings
    complete = RAW_4_RATERS[~np.isnan(RAW_4_RATERS).any(axis=1)]
    expected = statsmodels_fleiss(metrics.category_counts(complete, 5), method="fleiss")
    assert result.value == pytest.approx(expected, abs=1e-12)


def slow_percent_agreement(ratings: np.ndarray) -> float:
    shares = []
    for row in ratings:
        given = [v for v in row if not math.isnan(v)]
        r = len(given)
        if r >= 2:
            agreeing = sum(1 for i in range(r) for j in range(r) if i != j and given[i] == given[j])
            shares.append(agreeing / (r * (r - 1)))
    return sum(shares) / len(shares)


def test_percent_agreement_is_the_mean_share_of_agreeing_pairs():
    for ratings, q in random_sets(5):
        result = metrics.percent_agreement(ratings, n_categories=q)
        assert result.value == pytest.approx(slow_percent_agreement(ratings), abs=1e-9)


# ---------------------------------------------------------------- Gwet's AC1 ----------------


def slow_gwet_ac1(ratings: np.ndarray, q: int, *, chance_units: str) -> float:
    """Gwet (2014) eq. 2.29 with loops: pa over units with r ≥ 2; πₖ the mean of rₖ / r over the
    chance units (all units with a rating, or the pairable ones); pe = Σ πₖ(1 − πₖ) / (q − 1)."""
    agreements, shares, chance_count = [], [0.0] * q, 0
    for row in ratings:
        given = [int(v) for v in row if not math.isnan(v)]
        r = len(given)
        if r >= 2:
            agreeing = sum(given.count(k) * (given.count(k) - 1) for k in range(q))
            agreements.append(agreeing / (r * (r - 1)))
        if r >= 2 or (chance_units == "all" and r == 1):
            chance_count += 1
            for k in range(q):
                shares[k] += given.count(k) / r
    pa = sum(agreements) / len(agreements)
    pi = [s / chance_count for s in shares]
    pe = sum(p * (1 - p) for p in pi) / (q - 1)
    return (pa - pe) / (1 - pe)


@pytest.mark.parametrize("chance_units", ["pairable", "all"])
def test_ac1_equals_the_formulas_written_out_on_random_sets(chance_units):
    for ratings, q in random_sets(6):
        ours = metrics.gwet_ac1(ratings, n_categories=q, chance_units=chance_units)
        expected = slow_gwet_ac1(ratings, q, chance_units=chance_units)
        assert ours.value == pytest.approx(expected, abs=1e-9)


def test_ac1_reproduces_gwets_worked_example_of_four_raters_and_twelve_units():
    """Gwet (2014), p. 120 (irrCAC ``cac.raw4raters``): AC1 = 0.7754, Fleiss' kappa = 0.7612,
    percent agreement = 0.8182, Gwet's chance averaged over every unit with a rating."""
    ac1 = metrics.gwet_ac1(RAW_4_RATERS, n_categories=5, chance_units="all")
    assert ac1.value == pytest.approx(0.7754, abs=5e-5)
    fleiss = metrics.fleiss_kappa(RAW_4_RATERS, n_categories=5, chance_units="all")
    assert fleiss.value == pytest.approx(0.7612, abs=5e-5)
    assert metrics.percent_agreement(RAW_4_RATERS).value == pytest.approx(0.8182, abs=5e-5)


def test_two_raters_reproduce_the_published_abstractors_table():
    """irrCAC's ``cont3x3abstractors`` (2 raters, 100 units, 3 categories; the package overview
    vignette, cran.r-project.org/web/packages/irrCAC/vignettes/overview.html): Cohen's kappa
    0.7964094, Gwet's AC1 0.8493305, Krippendorff's alpha 0.7972585, percent agreement 0.89."""
    table = np.array([[13, 0, 0], [0, 20, 7], [0, 4, 56]])
    first = np.repeat(np.arange(3), table.sum(axis=1)).astype(float)
    second = np.concatenate([np.repeat(np.arange(3), row) for row in table]).astype(float)
    ratings = np.column_stack([first, second])
    assert metrics.cohen_kappa(first, second).value == pytest.approx(0.7964094, abs=5e-8)
    assert metrics.gwet_ac1(ratings).value == pytest.approx(0.8493305, abs=5e-8)
    assert metrics.krippendorff_alpha(ratings).value == pytest.approx(0.7972585, abs=5e-8)
    assert metrics.percent_agreement(ratings).value == pytest.approx(0.89, abs=1e-12)


def test_ac1_stays_high_where_kappa_collapses_because_one_verdict_dominates():
    # 100 items, two reviewers: 94 "complies" by both, 3 and 3 split, no shared "violates".
    first = np.array([0.0] * 94 + [0.0] * 3 + [1.0] * 3)
    second = np.array([0.0] * 94 + [1.0] * 3 + [0.0] * 3)
    ratings = np.column_stack([first, second])
    assert metrics.percent_agreement(ratings).value == pytest.approx(0.94)
    assert metrics.cohen_kappa(first, second).value < 0
    assert metrics.fleiss_kappa(ratings).value < 0
    assert metrics.krippendorff_alpha(ratings).value < 0.05
    assert metrics.gwet_ac1(ratings).value > 0.9


def test_ac1_counts_categories_of_the_scale_that_nobody_used():
    ratings = np.array([[0, 0], [0, 1], [1, 1], [0, 0.0]])
    assert metrics.gwet_ac1(ratings, n_categories=3).value != pytest.approx(
        metrics.gwet_ac1(ratings, n_categories=2).value
    )


# ---------------------------------------------------------------- bootstrap -----------------


def naive_bootstrap(ratings: np.ndarray, statistic, draws: int, seed: int) -> tuple[float, float]:
    """Resample pairable units with replacement, one draw at a time."""
    rows = ratings[(~np.isnan(ratings)).sum(axis=1) >= 2]
    rng = np.random.default_rng(seed)
    values = [statistic(rows[rng.integers(0, len(rows), len(rows))]) for _ in range(draws)]
    values = np.array([v for v in values if v is not None])
    return tuple(np.percentile(values, [2.5, 97.5]))


def test_bootstrap_intervals_match_resampling_units_one_draw_at_a_time():
    rng = np.random.default_rng(7)
    truth = rng.choice(3, size=300, p=[0.6, 0.3, 0.1])
    ratings = np.where(rng.random((300, 3)) < 0.7, truth[:, None], rng.choice(3, (300, 3)))
    ratings = ratings.astype(float)
    ratings[rng.random((300, 3)) < 0.2] = NAN

    alpha = metrics.krippendorff_alpha(ratings, level="ordinal", bootstrap=1000, seed=3)
    slow = naive_bootstrap(
        ratings,
        lambda r: metrics.krippendorff_alpha(r, level="ordinal", n_categories=3).value,
        1000,
        seed=11,
    )
    assert alpha.ci_low < alpha.value < alpha.ci_high
    assert alpha.ci_low == pytest.approx(slow[0], abs=0.02)
    assert alpha.ci_high == pytest.approx(slow[1], abs=0.02)

    ac1 = metrics.gwet_ac1(ratings, n_categories=3, bootstrap=1000, seed=3)
    slow = naive_bootstrap(
        ratings, lambda r: metrics.gwet_ac1(r, n_categories=3).value, 1000, seed=11
    )
    assert ac1.ci_low < ac1.value < ac1.ci_high
    assert ac1.ci_low == pytest.approx(slow[0], abs=0.02)
    assert ac1.ci_high == pytest.approx(slow[1], abs=0.02)


def test_a_seeded_bootstrap_gives_the_same_interval_twice_and_says_how_it_was_drawn():
    first = metrics.gwet_ac1(RAW_4_RATERS, bootstrap=1000, seed=5)
    again = metrics.gwet_ac1(RAW_4_RATERS, bootstrap=1000, seed=5)
    assert (first.ci_low, first.ci_high) == (again.ci_low, again.ci_high)
    report = first.as_dict()
    assert report["bootstrap"]["draws"] == 1000
    assert report["bootstrap"]["seed"] == 5
    assert report["n_items"] == 11


def test_encode_maps_labels_onto_the_scale_and_rejects_strangers():
    ratings, scale = metrics.encode(
        [["complies", "violates"], ["complies", None]], ["complies", "violates", "n/a"]
    )
    assert scale == ["complies", "violates", "n/a"]
    assert np.isnan(ratings[1, 1])
    assert ratings[0].tolist() == [0, 1]
    with pytest.raises(ValueError, match="unit 0, rater 1"):
        metrics.encode([["complies", "maybe"]], ["complies"])


@pytest.mark.parametrize("seed", range(20))
def test_a_compressed_count_table_gives_every_coefficient_and_interval_of_the_full_one(seed):
    rng = np.random.default_rng(seed)
    ratings = rng.integers(0, 4, size=(300, 3)).astype(float)
    ratings[rng.random(ratings.shape) < 0.3] = np.nan
    counts = metrics.category_counts(ratings, 4)
    rows, freq = metrics.distinct_counts(counts)
    assert len(rows) < len(counts)
    boot = {"bootstrap": 200, "seed": 7}
    pairs = [
        (
            metrics.krippendorff_alpha_counts(counts, level=level, **boot),
            metrics.krippendorff_alpha_counts(rows, level=level, frequencies=freq, **boot),
        )
        for level in ("nominal", "ordinal")
    ] + [
        (
            metrics.gwet_ac1_counts(counts, chance_units=units, **boot),
            metrics.gwet_ac1_counts(rows, chance_units=units, frequencies=freq, **boot),
        )
        for units in ("pairable", "all")
    ]
    pairs += [
        (
            metrics.fleiss_kappa_counts(counts, form=form),
            metrics.fleiss_kappa_counts(rows, form=form, frequencies=freq),
        )
        for form in ("varying", "complete")
    ]
    pairs.append(
        (
            metrics.percent_agreement_counts(counts),
            metrics.percent_agreement_counts(rows, frequencies=freq),
        )
    )
    for full, compressed in pairs:
        assert (compressed.n_items, compressed.n_labels) == (full.n_items, full.n_labels)
        for name in ("value", "ci_low", "ci_high"):
            expected = getattr(full, name)
            assert getattr(compressed, name) == pytest.approx(expected, abs=1e-12)


def test_frequencies_must_match_the_rows_of_the_table():
    with pytest.raises(ValueError, match="frequencies"):
        metrics.percent_agreement_counts(np.array([[2, 0], [1, 1]]), frequencies=np.array([3]))
