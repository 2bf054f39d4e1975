"""Celery tasks for reviews: none yet.

Labels, claims, campaign lifecycle and adjudication all run inside the request, each in one
transaction. The work that will not fit a request lives here, in the shape of
``transcripts.tasks``: re-runs (``RerunJob`` / ``ModelRun``: call a model endpoint for each
scenario and sample) and model judges (``JudgeRun``: label a campaign's items). Each is a thin
task with an explicit, stable name (``reviews.<verb>``: task names are a wire format), takes ids,
claims its row with a conditional UPDATE on the status, is safe to run twice, is enqueued on
commit, and calls a ``reviews.services`` function that does the work.
"""

from clausebook.celery import app


@app.task(
    name="reviews.send_notification_email",
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=5,
)
def send_notification_email(notification_id: int) -> None:
    """Email one notification (a mention) once: the service claims the row by ``emailed_at``."""
    from reviews.services.threads import notification_email_send

    notification_email_send(notification_id=notification_id)


@app.task(name="reviews.run_gold_export")
def run_gold_export(export_id: int) -> str:
    """Run one queued gold export. Safe to run twice: only the call whose conditional UPDATE
    claims the row (``queued`` → ``running``) writes the file; the others find nothing to do."""
    from reviews.services.gold_export import gold_export_claim, gold_export_run

    export = gold_export_claim(export_id=export_id)
    if export is None:
        return "not claimed"
    return gold_export_run(export=export).status


@app.task(name="reviews.sweep_exports")
def sweep_exports() -> int:
    """Fail gold exports whose worker died (their lease lapsed), every minute from Celery beat.
    Safe to run concurrently with itself and with exports."""
    from reviews.services.gold_export import gold_export_sweep

    return gold_export_sweep()


@app.task(name="reviews.run_judge")
def run_judge(judge_run_id: int) -> str:
    """Run one queued judge run. Safe to run twice: the service claims the row (``queued`` →
    ``running``) and skips every pair the run already labeled."""
    from reviews.services.judges import judge_run_execute

    return judge_run_execute(run_id=judge_run_id).status


@app.task(name="reviews.run_rerun_job")
def run_rerun_job(job_id: int) -> str:
    """Run one re-run job. Safe to run twice: the job and each of its calls are claimed with a
    conditional UPDATE, and a call with a stored answer is never made again. The id is the
    whole payload: the worker reads the endpoints (and their secrets) itself."""
    from reviews.services.reruns import rerun_job_run

    job = rerun_job_run(job_id=job_id)
    return "not claimed" if job is None else job.status
