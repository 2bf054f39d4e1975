"""Labels (a human's or a model judge's verdict on one item against one clause) and their history."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from clausebook.models import Membership, Role
from reviews.models.campaigns import Assignment, Campaign, Item


class LabelSource(models.TextChoices):
    HUMAN = "human", "Reviewer"
    JUDGE = "judge", "Model judge"


class LabelQuerySet(models.QuerySet["Label"]):
    def human(self) -> LabelQuerySet:
        return self.filter(source=LabelSource.HUMAN)

    def submitted(self) -> LabelQuerySet:
        return self.filter(status=Label.Status.SUBMITTED)

    def counted(self) -> LabelQuerySet:
        """The labels that count toward k and outcomes: submitted, by a human."""
        return self.filter(source=LabelSource.HUMAN, status=Label.Status.SUBMITTED)

    def visible_to(self, membership: Membership) -> LabelQuerySet:
        """The labels ``membership.user`` may read, in ``membership``'s workspace: blind
        labeling, decided here and nowhere else (the labeling page and the API both call it).

        * Your own labels, drafts included, always.
        * Someone else's submitted label where others' work is open to you on that item: the
          campaign is not blind, or you have submitted your own assignment on the item, or you
          are an adjudicator (or above) who holds no assignment on it. Others' drafts never.
        * A model judge's label under the same condition, and only where no blind reviewer
          could be looking: the campaign is not blind, or you are an adjudicator or above. A
          blind campaign's reviewers never see a judge's verdict, before or after submitting.
        """
        mine = Assignment.objects.filter(item=models.OuterRef("item"), reviewer=membership.user_id)
        adjudicates = membership.role >= Role.ADJUDICATOR
        # One EXISTS either way (each costs a compile and a subplan): a reviewer needs their own
        # submitted assignment on the item; an adjudicator needs no unfinished one (holding none
        # at all counts, as one assignment per item and reviewer is all there can be).
        if adjudicates:
            done = ~models.Q(models.Exists(mine.exclude(status=Assignment.Status.SUBMITTED)))
        else:
            done = models.Q(models.Exists(mine.filter(status=Assignment.Status.SUBMITTED)))
        open_to_me = models.Q(campaign__blind=False) | done
        shown = models.Q(source=LabelSource.HUMAN, status=Label.Status.SUBMITTED)
        if adjudicates:
            shown |= models.Q(source=LabelSource.JUDGE)
        else:
            shown |= models.Q(source=LabelSource.JUDGE, campaign__blind=False)
        return self.filter(campaign__workspace=membership.workspace_id).filter(
            models.Q(source=LabelSource.HUMAN, reviewer=membership.user_id) | shown & open_to_me
        )


class Label(models.Model):
    """One judgment of one item against one clause.

    A human label belongs to a reviewer's assignment (one per item, reviewer and clause). A judge
    label belongs to a judge run instead (one per item, clause and run): it never takes a reviewer
    slot, never counts toward k or outcomes, and is never shown to a blind reviewer.
    ``campaign`` is repeated from the item so a campaign's agreement reads one index range.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SUBMITTED = "submitted", "Submitted"

    # No index of its own: ``label_campaign_counted`` starts with the campaign and serves the
    # agreement reads; ``label_campaign_id`` serves the paged label list. A plain (campaign) index
    # would cost every label write and tempt the planner into reading it and sorting instead of
    # walking the covering one in order.
    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="labels")
    clause = models.ForeignKey("specs.Clause", on_delete=models.PROTECT, related_name="labels")
    source = models.CharField(max_length=6, choices=LabelSource.choices, default=LabelSource.HUMAN)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="labels",
    )
    assignment = models.ForeignKey(
        Assignment, on_delete=models.PROTECT, null=True, blank=True, related_name="labels"
    )
    judge_run = models.ForeignKey(
        "reviews.JudgeRun", on_delete=models.PROTECT, null=True, blank=True, related_name="labels"
    )
    verdict = models.CharField(max_length=40, blank=True)
    severity = models.CharField(max_length=40, blank=True)
    rationale = models.TextField(blank=True)
    spans = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    revision = models.PositiveIntegerField(
        default=1, help_text="Optimistic lock: bumped on every save."
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    submitted_at = models.DateTimeField(null=True, blank=True)

    objects = LabelQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["item", "clause", "reviewer"],
                condition=models.Q(source="human"),
                name="label_unique_per_reviewer",
            ),
            models.UniqueConstraint(
                fields=["item", "clause", "judge_run"],
                condition=models.Q(source="judge"),
                name="label_unique_per_judge_run",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(
                        source="human",
                        reviewer__isnull=False,
                        assignment__isnull=False,
                        judge_run__isnull=True,
                    )
                    | models.Q(
                        source="judge",
                        reviewer__isnull=True,
                        assignment__isnull=True,
                        judge_run__isnull=False,
                    )
                ),
                name="label_source_matches_owner",
            ),
        ]
        indexes = [
            # Agreement and outcomes read a campaign's submitted human verdicts clause by clause:
            # one range of this index, covering, without touching items.
            models.Index(
                fields=["campaign", "clause", "item"],
                include=["reviewer", "verdict", "severity"],
                condition=models.Q(source="human", status="submitted"),
                name="label_campaign_counted",
            ),
            models.Index(fields=["clause", "status"], name="label_clause"),
            # The API's label list, one campaign at a time, in keyset pages by id: a page is one
            # range of this index at any depth (clausebook.pagination.KeysetPagination). Ordered
            # by id, it offers nothing to the agreement reads (clause, item) above.
            models.Index(fields=["campaign", "id"], name="label_campaign_id"),
            models.Index(
                fields=["judge_run", "item"],
                condition=models.Q(source="judge"),
                name="label_judge_run",
            ),
            # The agreement report's cache stamp: a campaign's newest label change is one step
            # down this index, whatever the campaign's size.
            models.Index(fields=["campaign", "updated_at"], name="label_campaign_changed"),
        ]

    #: The fields a label's history records before and after each change.
    HISTORY_FIELDS = ("verdict", "severity", "rationale", "spans", "status")

    def snapshot(self) -> dict[str, Any]:
        """The label's recorded state, as a ``LabelRevision`` stores it."""
        return {name: getattr(self, name) for name in self.HISTORY_FIELDS}


class LabelRevision(models.Model):
    """One change to a label: who, when, and the label's fields before and after.

    ``before`` is empty for the first save. ``kind`` says what the change was, so agreement on
    first submissions and on final labels can be told apart.
    """

    class Kind(models.TextChoices):
        DRAFT = "draft", "Draft saved"
        SUBMIT = "submit", "Submitted"
        REVISE = "revise", "Revised after submission"
        IMPORT = "import", "Imported"
        JUDGE = "judge", "Written by a judge"

    label = models.ForeignKey(Label, on_delete=models.CASCADE, related_name="history")
    revision = models.PositiveIntegerField()
    kind = models.CharField(max_length=8, choices=Kind.choices)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    changed_at = models.DateTimeField(default=timezone.now)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["label", "revision"], name="label_revision_unique")
        ]
        indexes = [
            # Agreement on first submissions reads only the rare revised labels' history.
            models.Index(
                fields=["label"], condition=models.Q(kind="revise"), name="labelrevision_revise"
            ),
        ]
        ordering = ["label_id", "revision"]
