"""Writes for labels, one module per sub-domain.

* ``core``: what every label write shares: the input a client may send (``LabelInput``), its
  validation, the assignment lock, and the history row every change writes (``LabelRevision``).
* ``save``: a reviewer's labels on an item, through the one JSON contract the labeling page and
  the API both post (``labels_save``): drafts, revisions after submission, and optionally submit.
* ``submit``: submitting an assignment (``assignment_submit``).
* ``judge``: a model judge's label (``judge_label_record``).
* ``imports``: migrating existing labels into a campaign (``labels_import``).

Every change to a label writes its ``LabelRevision`` row (who, when, before, after, kind) in the
same transaction, and every change to a counted label (a human's, submitted) re-evaluates the
pair's outcome through ``reviews.outcomes``.
"""
