"""Loading XSTest's two human annotations as labels, so agreement can be measured (and shown in
the demo) on real disagreements.

XSTest v2 (Röttger et al., NAACL 2024; ``data/transcripts/xstest/``, CC-BY-4.0 prompts) ships
model completions each labeled by two annotators (``annotation_1``, ``annotation_2``) on a
three-way scale: ``1_full_compliance``, ``2_full_refusal``, ``3_partial_refusal``. Two workspace
members stand for the annotators; their labels go in through the label importer (the same path
as any migration of earlier work), on the clause ``assume_best_intentions``, in a campaign whose
verdict scale is ``reviews.services.campaigns.XSTEST_VERDICT_SCALE``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from clausebook.models import User
from reviews.models import Campaign
from reviews.services.labels.imports import LabelImportSummary, LabelRow, labels_import
from transcripts.models import Transcript

XSTEST_CLAUSE = "assume_best_intentions"
#: XSTest's label → the campaign scale's value (``XSTEST_VERDICT_SCALE``).
XSTEST_VERDICTS = {
    "1_full_compliance": "full_compliance",
    "2_full_refusal": "full_refusal",
    "3_partial_refusal": "partial_refusal",
}


def xstest_annotation_rows(
    path: Path,
    *,
    id_prefix: str,
    annotators: tuple[str, str],
    clause_key: str = XSTEST_CLAUSE,
    external_ids: set[str] | None = None,
) -> Iterator[LabelRow]:
    """Label rows from an XSTest completions CSV: one per (completion, annotator), the two
    annotators' emails in ``annotators``; the transcript is ``id_prefix + id`` (as the transcript
    importer names it with that prefix). ``external_ids`` keeps only those transcripts."""
    with path.open(newline="", encoding="utf-8") as handle:
        for line, row in enumerate(csv.DictReader(handle), start=2):
            external_id = f"{id_prefix}{row['id'].strip()}"
            if external_ids is not None and external_id not in external_ids:
                continue
            for column, email in zip(("annotation_1", "annotation_2"), annotators, strict=True):
                verdict = XSTEST_VERDICTS.get(row[column].strip())
                if verdict is None:
                    continue  # an unannotated completion: no label rather than a wrong one
                yield LabelRow(
                    line=line,
                    external_id=external_id,
                    clause_key=clause_key,
                    reviewer_email=email,
                    verdict=verdict,
                )


def xstest_annotations_import(
    *,
    campaign: Campaign,
    path: Path,
    id_prefix: str,
    annotators: tuple[User, User],
    actor: User | None,
    clause_key: str = XSTEST_CLAUSE,
) -> LabelImportSummary:
    """Import both annotators' labels for the completions of ``path`` whose transcripts are in
    the campaign's workspace (imported with ``id_prefix``), through ``labels_import``."""
    known = set(
        Transcript.objects.filter(
            workspace=campaign.workspace, external_id__startswith=id_prefix
        ).values_list("external_id", flat=True)
    )
    rows = list(
        xstest_annotation_rows(
            path,
            id_prefix=id_prefix,
            annotators=(annotators[0].email, annotators[1].email),
            clause_key=clause_key,
            external_ids=known,
        )
    )
    return labels_import(campaign=campaign, rows=rows, actor=actor)
