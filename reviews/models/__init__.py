"""The reviews app's tables, one module per sub-domain."""

from reviews.models.campaigns import (
    AgreementRule,
    Assignment,
    Campaign,
    CampaignClause,
    CampaignReviewer,
    Item,
    ItemState,
    Outcome,
    OutcomeState,
)
from reviews.models.gold import Comment, DecisionKind, GoldDecision, GoldPromotion
from reviews.models.labels import Label, LabelRevision, LabelSource
from reviews.models.runs import JobStatus, JudgeRun, ModelEndpoint, ModelRun, RerunJob

__all__ = [
    "AgreementRule",
    "Assignment",
    "Campaign",
    "CampaignClause",
    "CampaignReviewer",
    "Comment",
    "DecisionKind",
    "GoldDecision",
    "GoldPromotion",
    "Item",
    "ItemState",
    "JobStatus",
    "JudgeRun",
    "Label",
    "LabelRevision",
    "LabelSource",
    "ModelEndpoint",
    "ModelRun",
    "Outcome",
    "OutcomeState",
    "RerunJob",
]
