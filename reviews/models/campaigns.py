"""Campaigns, their clauses and reviewers, items, per-clause outcomes and assignments."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models.functions import Coalesce
from django.utils import timezone

from clausebook.models import Workspace


class AgreementRule(models.TextChoices):
    """How a campaign turns the verdicts on one (item, clause) into an outcome.

    The rule itself is evaluated in one place, ``reviews.outcomes``.
    """

    UNANIMOUS = "unanimous", "Unanimous: every verdict the same"
    SHARE = "share", "A minimum share of the verdicts given"


class CampaignQuerySet(models.QuerySet["Campaign"]):
    def with_seat_count(self) -> CampaignQuerySet:
        """Annotate ``seated_reviewers``: reviewers seated now (removed ones not counted)."""
        seats = (
            CampaignReviewer.objects.filter(campaign=models.OuterRef("pk"), removed_at__isnull=True)
            .order_by()
            .values("campaign")
            .annotate(n=models.Count("id"))
            .values("n")
        )
        return self.annotate(seated_reviewers=Coalesce(models.Subquery(seats), 0))


class Campaign(models.Model):
    """A review programme: a published spec version, clauses in scope, transcripts, k reviewers
    per item, and the rule that says when an (item, clause) is agreed."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        OPEN = "open", "Open"
        PAUSED = "paused", "Paused"
        CLOSED = "closed", "Closed"

    # The lifecycle, in one place: each action, the statuses it may start from, and where it
    # leads. Services enforce it (``UPDATE ... WHERE status IN``); pages derive their buttons.
    TRANSITIONS: ClassVar[dict[str, tuple[frozenset[str], str]]] = {
        "open": (frozenset({Status.DRAFT}), Status.OPEN),
        "pause": (frozenset({Status.OPEN}), Status.PAUSED),
        "resume": (frozenset({Status.PAUSED}), Status.OPEN),
        "close": (frozenset({Status.DRAFT, Status.OPEN, Status.PAUSED}), Status.CLOSED),
    }
    #: Actions that need at least k seated reviewers: items could never complete otherwise.
    NEEDS_K_SEATED: ClassVar[frozenset[str]] = frozenset({"open", "resume"})
    #: Statuses in which reviewers may be added or removed (a closed campaign is final).
    SEATS_CHANGE_IN: ClassVar[frozenset[str]] = frozenset(
        {Status.DRAFT, Status.OPEN, Status.PAUSED}
    )

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="campaigns")
    title = models.CharField(max_length=200)
    spec_version = models.ForeignKey(
        "specs.SpecVersion", on_delete=models.PROTECT, related_name="campaigns"
    )
    clauses = models.ManyToManyField(
        "specs.Clause", through="CampaignClause", related_name="campaigns"
    )
    scope_description = models.CharField(max_length=300, blank=True)
    reviewers_per_item = models.PositiveSmallIntegerField(default=2)
    blind = models.BooleanField(default=True)
    instructions = models.TextField(blank=True)
    verdict_scale = models.JSONField(default=list)
    verdict_scale_ordered = models.BooleanField(
        default=False, help_text="Verdicts have an order (ordinal agreement applies)."
    )
    severity_scale = models.JSONField(default=list)
    severity_scale_ordered = models.BooleanField(
        default=True, help_text="Severities have an order (ordinal agreement applies)."
    )
    agreement_rule = models.CharField(
        max_length=10, choices=AgreementRule.choices, default=AgreementRule.UNANIMOUS
    )
    agreement_min_share = models.DecimalField(
        max_digits=4,
        decimal_places=3,
        default=1,
        help_text="With the share rule: the top verdict's share of the verdicts given.",
    )
    gold_from_agreement = models.BooleanField(
        default=True, help_text="Agreed (item, clause) pairs become gold without an adjudicator."
    )
    adjudicator_may_have_labeled = models.BooleanField(default=False)
    require_every_clause = models.BooleanField(
        default=True, help_text="Submit needs a verdict on every clause in scope."
    )
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.DRAFT)
    revision = models.PositiveIntegerField(
        default=1, help_text="Optimistic lock for lifecycle changes: bumped on every change."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    opened_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    item_count = models.PositiveIntegerField(default=0)

    objects = CampaignQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(reviewers_per_item__gte=1, reviewers_per_item__lte=20),
                name="campaign_k_range",
            ),
            models.CheckConstraint(
                condition=models.Q(agreement_min_share__gt=0, agreement_min_share__lte=1),
                name="campaign_min_share_range",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def seated_count(self) -> int:
        """Reviewers seated now: the ``with_seat_count`` annotation, or one query without it."""
        annotated = getattr(self, "seated_reviewers", None)
        if annotated is not None:
            return annotated
        return self.reviewers.seated().count()

    @property
    def short_of_reviewers(self) -> bool:
        """Fewer seated reviewers than k: items that still need a reviewer cannot complete."""
        return self.seated_count < self.reviewers_per_item

    def allows(self, action: str) -> bool:
        """Whether the lifecycle ``action`` may start from the current status."""
        return self.status in self.TRANSITIONS[action][0]


class CampaignClause(models.Model):
    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="campaign_clauses"
    )
    clause = models.ForeignKey("specs.Clause", on_delete=models.PROTECT, related_name="+")
    position = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "clause"], name="campaign_clause_unique")
        ]
        ordering = ["campaign_id", "position"]


class CampaignReviewerQuerySet(models.QuerySet["CampaignReviewer"]):
    def seated(self) -> CampaignReviewerQuerySet:
        return self.filter(removed_at__isnull=True)


class CampaignReviewer(models.Model):
    """A seat in a campaign. Removing a reviewer ends the seat and keeps the row and their work."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="reviewers")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="campaign_seats"
    )
    added_at = models.DateTimeField(default=timezone.now)
    removed_at = models.DateTimeField(null=True, blank=True)

    objects = CampaignReviewerQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "user"], name="campaign_reviewer_unique")
        ]


class OutcomeState(models.TextChoices):
    OPEN = "open", "Open"
    AGREED = "agreed", "Agreed"
    DISPUTED = "disputed", "Disputed"
    ADJUDICATED = "adjudicated", "Adjudicated"


# An item's state is derived from its clauses' outcomes (``reviews.outcomes.item_state``);
# the names are the same.
ItemState = OutcomeState


class Item(models.Model):
    """A transcript inside a campaign. ``open_slots`` counts assignments still to hand out;
    the claim query walks a partial index of items with open slots. ``state`` is derived from
    the item's clause outcomes, and only ``reviews.outcomes`` writes it."""

    # No index of its own: the indexes in Meta lead with the campaign and serve its lookups. A
    # plain (campaign) index was a trap for the claim: planned on statistics taken before a
    # large campaign's items arrived (autovacuum analyzes within a minute or so), it looked like
    # one row, and the claim walked and sorted all 100k instead of taking item_claimable's first.
    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="items", db_index=False
    )
    transcript = models.ForeignKey(
        "transcripts.Transcript", on_delete=models.PROTECT, related_name="items"
    )
    position = models.PositiveIntegerField()
    state = models.CharField(max_length=12, choices=OutcomeState.choices, default=OutcomeState.OPEN)
    open_slots = models.PositiveSmallIntegerField()
    submitted_count = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "transcript"], name="item_transcript_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(open_slots__gte=0), name="item_open_slots_nonnegative"
            ),
        ]
        indexes = [
            models.Index(
                fields=["campaign", "position"],
                condition=models.Q(open_slots__gt=0),
                name="item_claimable",
            ),
            models.Index(fields=["campaign", "state", "position"], name="item_campaign_state"),
        ]


class Outcome(models.Model):
    """Where one (item, clause) stands: open, agreed, disputed or adjudicated.

    Written only by ``reviews.outcomes`` whenever a human label on the pair changes or a reviewer
    is removed, and by adjudication. ``campaign`` is repeated from the item so a campaign's queue
    (disputed pairs by clause) is one index range.
    """

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="outcomes")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="outcomes")
    clause = models.ForeignKey("specs.Clause", on_delete=models.PROTECT, related_name="+")
    state = models.CharField(max_length=12, choices=OutcomeState.choices, default=OutcomeState.OPEN)
    verdict_count = models.PositiveSmallIntegerField(default=0)
    top_verdict = models.CharField(max_length=40, blank=True)
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item", "clause"], name="outcome_unique"),
        ]
        indexes = [
            models.Index(fields=["campaign", "state", "clause"], name="outcome_campaign_state"),
        ]


class Assignment(models.Model):
    """One reviewer's turn at one item. ``campaign`` is repeated from the item so the database can
    hold a reviewer to one active assignment per campaign."""

    class Status(models.TextChoices):
        ACTIVE = "active", "In progress"
        SUBMITTED = "submitted", "Submitted"
        SKIPPED = "skipped", "Skipped"
        RELEASED = "released", "Released (reviewer removed)"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="assignments")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="assignments"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    skip_reason = models.CharField(max_length=300, blank=True)
    claimed_at = models.DateTimeField(default=timezone.now)
    submitted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item", "reviewer"], name="assignment_unique"),
            models.UniqueConstraint(
                fields=["campaign", "reviewer"],
                condition=models.Q(status="active"),
                name="assignment_one_active_per_campaign",
            ),
        ]
        indexes = [models.Index(fields=["reviewer", "status"], name="assignment_queue")]
