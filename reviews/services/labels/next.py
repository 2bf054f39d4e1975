"""Label an item in one request: save the reviewer's labels, submit the item, claim the next.

Contract of ``labels_submit_and_next``
--------------------------------------
* Save and submit are :func:`reviews.services.labels.save.labels_save` with ``submit=True``: one
  transaction, with its guarantees unchanged (revisions and :class:`LabelConflict`, a refused
  submit writes nothing, history rows and audit events). Any refusal raises before a claim is
  attempted, so a failed request hands out nothing.
* The next item is claimed by :func:`reviews.services.campaigns.item_claim_next` in its own short
  transaction, after the submit committed. Why not inside the submit's transaction: the claim may
  wait (it retries items other claims hold for a moment), and waiting while holding the submit's
  row locks (the assignment, the item's outcomes) would make every other reviewer of that item
  wait too. The split keeps the guarantees: "exactly k distinct reviewers" is the claim's own
  contract (``open_slots`` under a row lock, the unique (item, reviewer) constraint, one active
  assignment per reviewer and campaign), whoever calls it; and the submit, once committed, is
  never undone by what the claim does. Between the two a reviewer holds no active assignment,
  which is the same state the three-request path is in between its second and third request.
* A claim refused after the submit (the campaign was paused or closed, the reviewer's seat was
  removed in between) does not turn a successful submit into an error: the answer has no next
  item and says why (``next_refused``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError

from clausebook.models import User
from reviews.models import Assignment
from reviews.services.campaigns import item_claim_next
from reviews.services.labels.core import LabelInput
from reviews.services.labels.save import LabelsSaved, labels_save


@dataclass
class LabelsSubmittedNext:
    """What the one-request path answers: the save (labels, submitted assignment, item state)
    and the reviewer's next assignment, or None with the reason when nothing is handed out."""

    saved: LabelsSaved
    next: Assignment | None
    #: Why no next item was handed out although work may remain ("" when nothing is left).
    next_refused: str = ""


def labels_submit_and_next(
    *, assignment: Assignment, reviewer: User, labels: Sequence[LabelInput]
) -> LabelsSubmittedNext:
    """Save ``labels`` and submit the assignment (one transaction), then claim the reviewer's
    next item in the same campaign (see the module contract). Raises what ``labels_save``
    raises; never raises for the claim."""
    saved = labels_save(assignment=assignment, reviewer=reviewer, labels=labels, submit=True)
    campaign = saved.assignment.item.campaign
    try:
        following = item_claim_next(campaign=campaign, reviewer=reviewer, after_submit=True)
    except (ValidationError, PermissionDenied) as refusal:
        text = " ".join(getattr(refusal, "messages", None) or [str(refusal)])
        return LabelsSubmittedNext(saved=saved, next=None, next_refused=text)
    return LabelsSubmittedNext(saved=saved, next=following)
