"""Writes for transcripts: the entrances that pages, API, CLI, tasks and the demo call.

:mod:`~transcripts.services.imports` creates, claims and runs bulk imports;
:mod:`~transcripts.services.recovery` retries failed ones and sweeps those whose worker died.
"""

from transcripts.services.imports import (
    ImportTooLarge,
    ProgressCallback,
    clean_tags,
    import_limits,
    import_summary,
    max_upload_bytes,
    transcript_import_claim,
    transcript_import_create,
    transcript_import_path,
    transcript_import_run,
    upload_dir,
)
from transcripts.services.recovery import (
    ImportNotRetryable,
    SweepReport,
    transcript_import_retry,
    transcript_import_sweep,
)

__all__ = [
    "ImportNotRetryable",
    "ImportTooLarge",
    "ProgressCallback",
    "SweepReport",
    "clean_tags",
    "import_limits",
    "import_summary",
    "max_upload_bytes",
    "transcript_import_claim",
    "transcript_import_create",
    "transcript_import_path",
    "transcript_import_retry",
    "transcript_import_run",
    "transcript_import_sweep",
    "upload_dir",
]
