"""Agreement on real data: XSTest v2's two human annotations of the GPT-4 completions
(``data/transcripts/xstest/``; Röttger et al., NAACL 2024). Two member accounts stand for its
annotators, label the clause ``assume_best_intentions`` through the label importer, in a
campaign with XSTest's own three-way scale; the report must equal the reference packages."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import krippendorff
import numpy as np
import pytest
from django.conf import settings
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import fleiss_kappa

from clausebook.models import Membership, Role
from reviews.selectors.agreement import campaign_agreement
from reviews.services.agreement import XSTEST_CLAUSE, XSTEST_VERDICTS, xstest_annotations_import
from reviews.services.campaigns import XSTEST_VERDICT_SCALE
from tests.factories import UserFactory
from tests.reviews.factories import make_campaign, make_published_version
from transcripts.models import Transcript
from transcripts.services import (
    transcript_import_claim,
    transcript_import_create,
    transcript_import_run,
)

COMPLETIONS = (
    Path(settings.BASE_DIR)
    / "data/transcripts/xstest/model_completions"
    / "xstest_v2_completions_gpt4.csv"
)
PREFIX = "xstest-gpt4:"
SCALE = [entry["value"] for entry in XSTEST_VERDICT_SCALE]


def _reference_matrix() -> np.ndarray:
    """units × 2 annotators, codes on the campaign's scale, straight from the CSV."""
    with COMPLETIONS.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return np.array(
        [
            [
                SCALE.index(XSTEST_VERDICTS[row[column]])
                for column in ("annotation_1", "annotation_2")
            ]
            for row in rows
        ],
        dtype=float,
    )


@pytest.fixture
def xstest_campaign(personas):  # type: ignore[no-untyped-def]
    run, _ = transcript_import_create(
        workspace=personas.workspace,
        actor=personas.editor,
        upload=io.BytesIO(COMPLETIONS.read_bytes()),
        filename=COMPLETIONS.name,
        id_prefix=PREFIX,
        enqueue=False,
    )
    transcript_import_run(import_run=transcript_import_claim(import_id=run.pk))
    annotators = []
    for n in (1, 2):
        user = UserFactory(email=f"xstest-annotator-{n}@policy.test")
        Membership.objects.create(workspace=personas.workspace, user=user, role=Role.REVIEWER)
        annotators.append(user)
    version = make_published_version(personas.workspace, keys=[XSTEST_CLAUSE])
    campaign = make_campaign(
        personas.workspace,
        created_by=personas.adjudicator,
        transcripts=list(Transcript.objects.filter(workspace=personas.workspace)[:1]),
        version=version,
        k=2,
        verdict_scale=XSTEST_VERDICT_SCALE,
    )
    summary = xstest_annotations_import(
        campaign=campaign,
        path=COMPLETIONS,
        id_prefix=PREFIX,
        annotators=(annotators[0], annotators[1]),
        actor=personas.editor,
    )
    assert summary.created == 900
    return campaign, annotators


@pytest.mark.django_db
def test_the_report_on_xstests_two_annotators_equals_the_reference_packages(
    xstest_campaign,
) -> None:
    campaign, annotators = xstest_campaign
    reference = _reference_matrix()
    report = campaign_agreement(campaign)
    [clause] = report["clauses"]
    assert clause["key"] == XSTEST_CLAUSE
    figures = clause["final"]

    alpha = krippendorff.alpha(
        reliability_data=reference.T, level_of_measurement="nominal", value_domain=[0, 1, 2]
    )
    assert figures["alpha_nominal"]["value"] == pytest.approx(alpha, abs=1e-9)
    assert (figures["alpha_nominal"]["n_items"], figures["alpha_nominal"]["n_labels"]) == (450, 900)

    counts = np.stack([(reference == k).sum(axis=1) for k in range(3)], axis=1)
    assert figures["fleiss_kappa"]["value"] == pytest.approx(fleiss_kappa(counts), abs=1e-9)
    agree = float((reference[:, 0] == reference[:, 1]).mean())
    assert figures["percent_agreement"]["value"] == pytest.approx(agree, abs=1e-12)

    ids = report["pairwise"]["reviewer_ids"]
    first, second = ids.index(annotators[0].pk), ids.index(annotators[1].pk)
    kappa = cohen_kappa_score(reference[:, 0], reference[:, 1])
    assert report["pairwise"]["final"][first][second]["value"] == pytest.approx(kappa, abs=1e-9)
    assert report["pairwise"]["final"][first][second]["n_items"] == 450
    # The annotators disagree on a few completions, so there is something to adjudicate.
    assert 0.8 < alpha < 1
