"""Celery tasks for transcripts. Thin: they take ids, claim work, and call a service."""

from __future__ import annotations

from clausebook.celery import app
from transcripts import services


@app.task(name="transcripts.run_import")
def run_transcript_import(import_id: int) -> str:
    """Run one queued import. Safe to run twice: only the call that claims the row does the work.

    The claim is a conditional UPDATE (queued → running), so a redelivered or duplicated message
    finds nothing to do and returns. A row that never committed (the request rolled back) is not
    found and the task is a no-op too (T33).
    """
    import_run = services.transcript_import_claim(import_id=import_id)
    if import_run is None:
        return "not claimed"
    import_run = services.transcript_import_run(import_run=import_run)
    return import_run.status
