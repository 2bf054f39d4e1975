"""Decisions on (item, clause) pairs (the gold history), their promotion into spec examples, and
discussion threads."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from clausebook.models import Workspace
from reviews.models.campaigns import Campaign, Item


class DecisionKind(models.TextChoices):
    ADJUDICATED = "adjudicated", "Adjudicated"
    AGREED = "agreed", "Agreed by the reviewers"
    REOPENED = "reopened", "Reopened"
    # Not a person's act: the reviewers' labels changed and the agreement an ``agreed`` decision
    # rested on no longer holds (written by ``reviews.outcomes``).
    WITHDRAWN = "withdrawn", "Agreement withdrawn"


#: Kinds that are gold (a verdict someone may export); the others only close a previous one.
GOLD_KINDS = frozenset({DecisionKind.ADJUDICATED, DecisionKind.AGREED})


class GoldDecisionQuerySet(models.QuerySet["GoldDecision"]):
    def current(self) -> GoldDecisionQuerySet:
        return self.filter(is_current=True)

    def gold(self) -> GoldDecisionQuerySet:
        """The current gold: each pair's latest decision, unless that decision reopened or
        withdrew it."""
        return self.filter(is_current=True, kind__in=GOLD_KINDS)

    def append(
        self,
        *,
        previous: GoldDecision | None,
        agreeing_reviewer_ids: list[int] | tuple[int, ...] = (),
        **fields: object,
    ) -> GoldDecision:
        """Add a decision on a pair, superseding ``previous`` (the pair's current decision).

        The only write a decision ever gets after its insert is ``is_current`` going from true
        to false (the append-only trigger of migration 0002 refuses anything else), so the old
        row is flipped first and the one-current-per-pair index never sees two. Callers hold
        the item's row lock, which serialises decisions on its pairs.
        """
        if previous is not None:
            flipped = self.filter(pk=previous.pk, is_current=True).update(is_current=False)
            if flipped != 1:
                raise RuntimeError(f"decision {previous.pk} is no longer current")
            previous.is_current = False
        decision = self.create(supersedes=previous, is_current=True, **fields)
        if agreeing_reviewer_ids:
            decision.agreeing_reviewers.add(*agreeing_reviewer_ids)
        return decision


class GoldDecision(models.Model):
    """One decision on one (item, clause): the gold label's history, append-only.

    Deciding again (or reopening) adds a row and moves ``is_current`` to it; earlier rows stay,
    with who and when. Kinds: ``adjudicated`` (by ``decided_by``), ``agreed`` (made by the
    reviewers' agreement), ``reopened`` (a person sent the pair back to adjudication; no
    verdict) and ``withdrawn`` (the agreement behind an ``agreed`` row no longer holds; no
    verdict, no person). The database keeps at most one current row per pair and refuses to delete
    any row (gold promoted into a published spec version is superseded, never deleted).
    A decision records what export needs without joins back through the campaign: the clause,
    spec version, campaign, transcript, verdict, severity and rationale, and its source: an
    adjudicator (``decided_by``), or the reviewers whose agreement made it under the campaign's
    rule (``agreeing_reviewers``, ``rule``).
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.PROTECT, related_name="+")
    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="decisions")
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="decisions")
    clause = models.ForeignKey("specs.Clause", on_delete=models.PROTECT, related_name="+")
    spec_version = models.ForeignKey(
        "specs.SpecVersion", on_delete=models.PROTECT, related_name="+"
    )
    transcript = models.ForeignKey(
        "transcripts.Transcript", on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(max_length=12, choices=DecisionKind.choices)
    verdict = models.CharField(max_length=40, blank=True)
    severity = models.CharField(max_length=40, blank=True)
    rationale = models.TextField(blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    agreeing_reviewers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="+"
    )
    rule = models.CharField(
        max_length=60, blank=True, help_text="The campaign's rule when agreement made it gold."
    )
    supersedes = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="superseded_by"
    )
    is_current = models.BooleanField(default=True)
    decided_at = models.DateTimeField(default=timezone.now)

    objects = GoldDecisionQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["item", "clause"],
                condition=models.Q(is_current=True),
                name="decision_one_current_per_pair",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(kind="adjudicated", decided_by__isnull=False) & ~models.Q(verdict="")
                    | models.Q(kind="agreed", decided_by__isnull=True) & ~models.Q(verdict="")
                    | models.Q(kind="reopened", decided_by__isnull=False, verdict="")
                    | models.Q(kind="withdrawn", decided_by__isnull=True, verdict="")
                ),
                name="decision_kind_has_its_fields",
            ),
        ]
        indexes = [
            models.Index(
                fields=["workspace", "clause", "decided_at"],
                condition=models.Q(is_current=True),
                name="decision_gold",
            ),
            models.Index(fields=["campaign", "is_current"], name="decision_campaign"),
            # The agreement report's cache stamp: a campaign's newest decision in one probe.
            models.Index(fields=["campaign", "id"], name="decision_campaign_id"),
            # Exports walk a workspace's gold by id in keyset chunks (``id > last ORDER BY id
            # LIMIT n``): each chunk is one range of this index, never a sort of the selection.
            models.Index(
                fields=["workspace", "id"],
                condition=models.Q(is_current=True),
                name="decision_gold_by_id",
            ),
        ]


class GoldPromotion(models.Model):
    """A gold decision promoted to an example of a spec clause. The link lives on the review side,
    so specs imports nothing of reviews; both ends are protected, so promoted gold stays.

    Promotion is an amendment change (``change``, an ``add_example``); the example itself exists
    only once that amendment merges, so ``example`` stays empty until then."""

    decision = models.ForeignKey(GoldDecision, on_delete=models.PROTECT, related_name="promotions")
    change = models.ForeignKey(
        "specs.AmendmentChange",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    example = models.OneToOneField(
        "specs.Example",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="gold_promotion",
    )
    promoted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    promoted_at = models.DateTimeField(default=timezone.now)


class Comment(models.Model):
    """A message in a thread: on one (item, clause), or on an amendment. Markdown, rendered
    sanitized."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    item = models.ForeignKey(
        Item, on_delete=models.CASCADE, null=True, blank=True, related_name="comments"
    )
    clause = models.ForeignKey(
        "specs.Clause", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    amendment = models.ForeignKey(
        "specs.Amendment", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField()
    mentions = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    revision = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)
    edited_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(item__isnull=False, clause__isnull=False, amendment__isnull=True)
                    | models.Q(item__isnull=True, clause__isnull=True, amendment__isnull=False)
                ),
                name="comment_on_a_pair_or_an_amendment",
            )
        ]
        indexes = [
            models.Index(fields=["item", "clause", "created_at"], name="comment_pair_thread"),
        ]
