"""The cases that motivated an amendment, linked without promoting them to examples.

A case is a gold decision, or (failing gold) an (item, clause) pair of a campaign in the same
workspace. The link lives on the review side (specs imports nothing of reviews); a promoted case
is linked through its ``GoldPromotion`` instead. Both ends are protected, as for promotions, so
an amendment stays traceable to what motivated it.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from clausebook.models import Workspace
from reviews.models.campaigns import Item
from reviews.models.gold import GoldDecision


class AmendmentCase(models.Model):
    """One case linked to an amendment: always its (item, clause) pair, and the gold decision
    when the case was linked as one (or the pair had gold when it was linked)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    amendment = models.ForeignKey(
        "specs.Amendment", on_delete=models.CASCADE, related_name="motivating_cases"
    )
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="+")
    clause = models.ForeignKey("specs.Clause", on_delete=models.PROTECT, related_name="+")
    decision = models.ForeignKey(
        GoldDecision, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    linked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    linked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            # Linking a case twice keeps one link (the service's get_or_create relies on it).
            models.UniqueConstraint(
                fields=["amendment", "item", "clause"], name="amendment_case_once"
            )
        ]
