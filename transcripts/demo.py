"""Demo transcripts: a few hundred real conversations from ``data/transcripts/``.

Idempotent and quick: each set is cut to a fixed number of rows in memory, and its import uses an
idempotency key made from the hash of those bytes, so the second ``make demo`` imports nothing.
Imports run in this process (no worker needed while seeding).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings

from transcripts.models import TranscriptImport
from transcripts.services import (
    transcript_import_claim,
    transcript_import_create,
    transcript_import_run,
)

DATA = Path(settings.BASE_DIR) / "data" / "transcripts"


@dataclass(frozen=True)
class DemoSet:
    path: str
    format: str
    rows: int | None  # None: the whole file
    source: str
    tags: tuple[str, ...]
    id_prefix: str


SETS = (
    DemoSet(
        "xstest/model_completions/xstest_v2_completions_gpt4.csv",
        "prompt_response_csv",
        None,  # whole: its annotators' few disagreements are spread over all 450 (reviews.demo)
        "XSTest v2 (GPT-4 completions)",
        ("xstest", "gpt-4"),
        "xstest-gpt4:",
    ),
    DemoSet(
        "xstest/model_completions/xstest_v2_completions_mistralinstruct.csv",
        "prompt_response_csv",
        None,  # whole: its annotators' few disagreements are spread over all 450 (reviews.demo)
        "XSTest v2 (Mistral-7B-Instruct completions)",
        ("xstest", "mistral"),
        "xstest-mistral:",
    ),
    DemoSet(
        "jailbreakbench-pair/black_box/gpt-3.5-turbo-1106.json",
        "jailbreakbench_json",
        None,
        "JailbreakBench PAIR (gpt-3.5-turbo-1106)",
        ("jailbreakbench", "gpt-3.5"),
        "",
    ),
    DemoSet(
        "hh-rlhf-harmless-base-test/harmless-base_test.jsonl.gz",
        "hh_jsonl",
        100,
        "Anthropic HH-RLHF harmless-base test",
        ("hh-rlhf", "preference-pair"),
        "hh:",
    ),
    DemoSet("mt-bench/question.jsonl", "mtbench_jsonl", None, "MT-Bench", ("mt-bench",), ""),
)


def _head(demo: DemoSet) -> bytes:
    """The first ``rows`` data rows of the set (CSV rows may span lines), as bytes."""
    path = DATA / demo.path
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if demo.rows is None:
        return raw
    if demo.format == "prompt_response_csv":
        reader = csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline=""))
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        for index, row in enumerate(reader):
            if index > demo.rows:
                break
            writer.writerow(row)
        return out.getvalue().encode()
    return b"".join(raw.splitlines(keepends=True)[: demo.rows])


def seed(platform: Any, stdout: Any) -> None:
    """Import the demo sets into the demo workspace once (a no-op when already imported)."""
    workspace = platform.workspace
    actor = platform.users.get("editor") or platform.users.get("admin")
    for demo in SETS:
        data = _head(demo)
        key = "demo-" + hashlib.sha256(data).hexdigest()[:40]
        run, created = transcript_import_create(
            workspace=workspace,
            actor=actor,
            upload=io.BytesIO(data),
            filename=Path(demo.path).name,
            format=demo.format,
            source=demo.source,
            tags=demo.tags,
            id_prefix=demo.id_prefix,
            mode=TranscriptImport.Mode.VALID_ROWS,
            idempotency_key=key,
            enqueue=False,
        )
        if not created:
            continue
        claimed = transcript_import_claim(import_id=run.pk)
        if claimed is not None:
            run = transcript_import_run(import_run=claimed)
        stdout.write(
            f"  {demo.source}: {run.created_count} transcripts, {run.scenario_count} scenarios, "
            f"{run.duplicate_count} duplicates, {run.rejected_count} rejected"
        )
