"""Celery tasks for reviews: none yet.

Labels, claims, campaign lifecycle and adjudication all run inside the request, each in one
transaction. The work that will not fit a request lives here, in the shape of
``transcripts.tasks``: re-runs (``RerunJob`` / ``ModelRun``: call a model endpoint for each
scenario and sample) and model judges (``JudgeRun``: label a campaign's items). Each is a thin
task with an explicit, stable name (``reviews.<verb>``: task names are a wire format), takes ids,
claims its row with a conditional UPDATE on the status, is safe to run twice, is enqueued on
commit, and calls a ``reviews.services`` function that does the work.
"""
