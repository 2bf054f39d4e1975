"""A re-run job enforces its deadline, against the Clausebook local model server (development
tool): once the calls outlast ``deadline_at`` the job stops, its unfinished runs fail saying the
deadline passed, the answers it stored are kept, and the job and its page say it ran out of time.

The service runs the calls in-process (as the other fault tests in ``test_reruns.py`` do). The
service refuses a deadline under 60 s, so the test creates the job as a user would and then moves
its ``deadline_at`` two seconds ahead directly: the worker reads the deadline from the row, which
is all the code path under test needs, and the test stays short."""

from __future__ import annotations

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from reviews.models import JobStatus, ModelRun, RerunJob
from reviews.services.reruns import rerun_job_run
from tests.reviews.test_reruns import (  # noqa: F401 - fixtures, used by name
    _keys,
    endpoint,
    job_for,
    model_server,
    scenario,
    script,
    server,
)
from transcripts.models import Transcript, TranscriptOrigin


def test_a_job_whose_calls_outlast_its_deadline_stops_and_keeps_its_answers(
    personas,
    server,  # noqa: F811 - the fixtures imported above
    script,  # noqa: F811
):
    # One call at a time: the first answers at once, the second hangs far past the deadline, so
    # the third is never started.
    local = endpoint(personas.workspace, server, concurrency=1, timeout_seconds=30)
    questions = [scenario(personas.workspace, f"Deadline question {n}?") for n in range(3)]
    job = job_for(personas, questions, [local])
    RerunJob.objects.filter(pk=job.pk).update(deadline_at=timezone.now() + timedelta(seconds=2))
    script.faults = ["", "timeout=30s"]

    finished = rerun_job_run(job_id=job.pk, client=script.client)

    assert finished.status == JobStatus.FAILED
    assert "deadline" in finished.error
    first, hung, never = ModelRun.objects.filter(job=job).order_by("id")
    # The answer stored before the deadline is kept, as a re-run transcript.
    assert first.status == JobStatus.SUCCEEDED
    assert Transcript.objects.get(pk=first.transcript_id).origin == TranscriptOrigin.RERUN
    # The call cut off by the deadline, and the one never made, fail saying why.
    for run in (hung, never):
        assert run.status == JobStatus.FAILED
        assert run.transcript_id is None
        assert "deadline passed" in run.error
    assert server.chat_requests == 2  # the third call was never made
    assert not ModelRun.objects.filter(
        job=job, status__in=[JobStatus.QUEUED, JobStatus.RUNNING]
    ).exists()

    page = personas.client_for(personas.adjudicator).get(
        reverse("reviews:rerun-detail", args=[personas.workspace.slug, job.pk])
    )
    assert page.status_code == 200
    assert "deadline passed before every call finished" in page.text
    assert "deadline passed before this call finished" in page.text  # the runs' errors
