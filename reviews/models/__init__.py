"""The reviews app's tables, one module per sub-domain."""

from reviews.models.amendment_cases import AmendmentCase
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
from reviews.models.exports import ExportFormat, GoldExport
from reviews.models.gold import Comment, DecisionKind, GoldDecision, GoldPromotion
from reviews.models.labels import Label, LabelRevision, LabelSource
from reviews.models.runs import (
    EndpointRateBucket,
    EndpointSlot,
    JobStatus,
    JudgeRun,
    ModelEndpoint,
    ModelRun,
    RerunJob,
)
from reviews.models.threads import CommentRevision, Notification, NotificationKind

__all__ = [
    "AgreementRule",
    "AmendmentCase",
    "Assignment",
    "Campaign",
    "CampaignClause",
    "CampaignReviewer",
    "Comment",
    "CommentRevision",
    "DecisionKind",
    "EndpointRateBucket",
    "EndpointSlot",
    "ExportFormat",
    "GoldDecision",
    "GoldExport",
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
    "Notification",
    "NotificationKind",
    "Outcome",
    "OutcomeState",
    "RerunJob",
]
