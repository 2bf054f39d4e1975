"""Celery tasks for transcripts. Thin: they take ids, claim work, and call a service.

Task names are a wire format: queued messages and the beat schedule (``CELERY_BEAT_SCHEDULE``
in settings) name them.
"""

from __future__ import annotations

from clausebook.celery import app
from transcripts import services


@app.task(name="transcripts.run_import")
def run_transcript_import(import_id: int) -> str:
    """Run one queued import. Safe to run twice: only the call that claims the row does the work.

    The claim is a conditional UPDATE (queued, or running with a lapsed lease → running under a
    fresh lease), so a redelivered or duplicated message finds nothing to do while another run
    holds the import, and takes over one whose worker died. A row that never committed (the
    request rolled back) is not found and the task is a no-op too (T33).
    """
    import_run = services.transcript_import_claim(import_id=import_id)
    if import_run is None:
        return "not claimed"
    import_run = services.transcript_import_run(import_run=import_run)
    return import_run.status


@app.task(name="transcripts.sweep_imports")
def sweep_imports() -> dict[str, int]:
    """Re-queue or fail imports whose worker died, and remove uploads nobody needs (every minute,
    from Celery beat). Safe to run concurrently with itself and with imports."""
    return services.transcript_import_sweep().counts()
