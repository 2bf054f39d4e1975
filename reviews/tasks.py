"""Celery tasks for reviews.

Labels, claims, campaign lifecycle and adjudication all run inside the request, each in one
transaction. The work that will not fit a request lives here, in the shape of
``transcripts.tasks``: re-runs (``RerunJob`` / ``ModelRun``: call a model endpoint for each
scenario and sample) and model judges (``JudgeRun``: label a campaign's items). Each is a thin
task with an explicit, stable name (``reviews.<verb>``: task names are a wire format), takes ids,
claims its row with a conditional UPDATE on the status, is safe to run twice, is enqueued on
commit, and calls a ``reviews.services`` function that does the work.
"""

from django.conf import settings
from django.db import InterfaceError, OperationalError

from clausebook.celery import app

#: A task that lost its database (an outage, a terminated connection) is retried with capped
#: exponential backoff: the job's lease and its runs' claims make the retry resume, not repeat.
DATABASE_ERRORS = (OperationalError, InterfaceError)
DATABASE_RETRY_BACKOFF_MAX = 60
DATABASE_MAX_RETRIES = 8
#: A delivery that finds its job held under a live lease (a redelivery while the first is still
#: running, or after its worker was killed) comes back when the lease lapses, plus this margin.
BUSY_MARGIN_SECONDS = 1.0


def longest_countdown() -> float:
    """The longest countdown any reviews task is sent with: the broker's visibility timeout must
    exceed it plus the hard time limit (celery#7918, T35)."""
    return max(
        float(settings.RERUN_LEASE_SECONDS) + BUSY_MARGIN_SECONDS,
        float(DATABASE_RETRY_BACKOFF_MAX),
    )


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


@app.task(
    name="reviews.run_judge",
    autoretry_for=DATABASE_ERRORS,
    retry_backoff=True,
    retry_backoff_max=DATABASE_RETRY_BACKOFF_MAX,
    retry_jitter=True,
    max_retries=DATABASE_MAX_RETRIES,
)
def run_judge(judge_run_id: int) -> str:
    """Run one judge run. Safe to run twice: the service claims the row (queued, or running
    under a lapsed lease) and skips every pair the run already labeled; a delivery that finds
    the run held under a live lease comes back when it lapses."""
    from reviews.services.judges import judge_run_busy_seconds, judge_run_execute

    run = judge_run_execute(run_id=judge_run_id)
    if run.status == "running":
        # Not ours: another delivery holds it, or held it until its worker died.
        wait = judge_run_busy_seconds(run_id=judge_run_id)
        if wait is not None:
            run_judge.apply_async((judge_run_id,), countdown=wait + BUSY_MARGIN_SECONDS)
            return "busy"
    return run.status


@app.task(
    name="reviews.run_rerun_job",
    autoretry_for=DATABASE_ERRORS,
    retry_backoff=True,
    retry_backoff_max=DATABASE_RETRY_BACKOFF_MAX,
    retry_jitter=True,
    max_retries=DATABASE_MAX_RETRIES,
)
def run_rerun_job(job_id: int) -> str:
    """Run one re-run job. Safe to run twice: the job and each of its calls are claimed with a
    conditional UPDATE, and a call with a stored answer is never made again. A delivery that
    finds the job held under a live lease (redelivered after its worker was killed, or while
    the first still runs) is sent again for when the lease lapses: then it takes the job over if
    nobody renewed it, and finds nothing to do if the job finished. The id is the whole
    payload: the worker reads the endpoints (and their secrets) itself."""
    from reviews.services.reruns import rerun_job_busy_seconds, rerun_job_run

    job = rerun_job_run(job_id=job_id)
    if job is None:
        wait = rerun_job_busy_seconds(job_id=job_id)
        if wait is None:
            return "not claimed"
        # A fresh message, not self.retry(): waiting out a lease is not a failure and must not
        # use up the retries a database outage gets.
        run_rerun_job.apply_async((job_id,), countdown=wait + BUSY_MARGIN_SECONDS)
        return "busy"
    return job.status


@app.task(name="reviews.sweep_runs")
def sweep_runs() -> int:
    """Take over or fail re-run jobs and judge runs whose lease lapsed (their worker died and
    no redelivery came), every minute from Celery beat. Safe beside running work and itself."""
    from reviews.services.judges import judge_run_sweep
    from reviews.services.reruns import rerun_job_sweep

    return rerun_job_sweep() + judge_run_sweep()
