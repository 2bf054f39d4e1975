"""REST API for adjudication: the pairs needing a decision, an item's adjudication view, recording
gold and reopening it.

Every view scopes by workspace through ``WorkspaceAPIMixin`` (the ``gold.adjudicate`` right) and
reads through the selectors the pages use (``reviews.selectors.adjudication``); a campaign or item
of another workspace is 404. Writes go through the gold services, which check the right again,
refuse an adjudicator who labeled the item (403, unless the campaign allows it) and compare
``expected_decision`` with the pair's current decision: a decision made meanwhile is a 409 with
the pair as it is now, and nothing is written.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from clausebook.access import WorkspaceAPIMixin
from clausebook.api_errors import Conflict
from reviews import access
from reviews import adjudication_presenters as presenters
from reviews.api.labels import ClauseRefField
from reviews.models import GoldDecision, Item, Outcome
from reviews.selectors import adjudication as selectors
from reviews.selectors import campaigns as campaign_selectors
from reviews.services import gold as gold_services
from reviews.services.labels.core import MAX_RATIONALE, MAX_VALUE, resolve_clauses

MAX_REASON = 2_000

# --------------------------------------------------------------------------------------------------
# Serializers
# --------------------------------------------------------------------------------------------------


class QueuePairOutput(serializers.Serializer):
    """One (item, clause) needing a decision."""

    item = serializers.IntegerField(source="item_id")
    position = serializers.IntegerField(source="item.position", help_text="From 0.")
    external_id = serializers.CharField(source="item.transcript.external_id")
    clause = serializers.IntegerField(source="clause_id")
    clause_key = serializers.CharField(source="clause.key")
    state = serializers.CharField(help_text="disputed, or agreed (when agreed pairs need one).")
    verdict_count = serializers.IntegerField()
    top_verdict = serializers.CharField(help_text="Empty when the leading verdicts tie.")
    changed_at = serializers.DateTimeField(help_text="When the pair entered its state.")


class DecisionOutput(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=["adjudicated", "agreed", "reopened", "withdrawn"])
    verdict = serializers.CharField()
    severity = serializers.CharField()
    rationale = serializers.CharField(help_text="The adjudicator's rationale, or why reopened.")
    decided_by = serializers.EmailField(allow_null=True)
    agreeing_reviewers = serializers.ListField(child=serializers.EmailField())
    rule = serializers.CharField()
    decided_at = serializers.DateTimeField()
    supersedes = serializers.IntegerField(allow_null=True)
    is_current = serializers.BooleanField()


class JudgeOutput(serializers.Serializer):
    id = serializers.IntegerField()
    endpoint = serializers.CharField()
    model = serializers.CharField()
    prompt_version = serializers.CharField()


class AdjudicationLabelOutput(serializers.Serializer):
    """A label on the pair: a reviewer's (``reviewer`` set) or a model judge's (``judge`` set;
    never counted toward agreement)."""

    id = serializers.IntegerField()
    source = serializers.ChoiceField(choices=["human", "judge"])
    author = serializers.CharField()
    reviewer = serializers.EmailField(allow_null=True)
    judge = JudgeOutput(allow_null=True)
    verdict = serializers.CharField()
    severity = serializers.CharField()
    rationale = serializers.CharField()
    spans = serializers.ListField(child=serializers.DictField())
    status = serializers.CharField()
    submitted_at = serializers.DateTimeField(allow_null=True)


class AdjudicationExampleOutput(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    turns = serializers.ListField(child=serializers.DictField())


class PairOutput(serializers.Serializer):
    clause = serializers.IntegerField()
    clause_key = serializers.CharField()
    clause_title = serializers.CharField()
    clause_body = serializers.CharField(help_text="The clause's Markdown.")
    examples = AdjudicationExampleOutput(many=True)
    state = serializers.CharField()
    verdict_count = serializers.IntegerField()
    top_verdict = serializers.CharField()
    needs_decision = serializers.BooleanField()
    labels = AdjudicationLabelOutput(many=True)
    current_decision = DecisionOutput(allow_null=True)
    history = DecisionOutput(many=True, help_text="Newest first, the current one included.")


class AdjudicationItemInfoOutput(serializers.Serializer):
    id = serializers.IntegerField()
    position = serializers.IntegerField()
    state = serializers.CharField()
    transcript = serializers.IntegerField()
    external_id = serializers.CharField()
    messages = serializers.ListField(child=serializers.DictField())


class ScaleEntryOutput(serializers.Serializer):
    value = serializers.CharField()
    label = serializers.CharField()


class AdjudicationItemOutput(serializers.Serializer):
    campaign = serializers.IntegerField()
    item = AdjudicationItemInfoOutput()
    verdict_scale = ScaleEntryOutput(many=True)
    severity_scale = ScaleEntryOutput(many=True)
    gold_from_agreement = serializers.BooleanField(
        help_text="Agreed pairs become gold on their own; when false they need an adjudicator."
    )
    may_decide = serializers.BooleanField(
        help_text="False when you labeled this item and the campaign does not allow you to "
        "settle it."
    )
    refusal = serializers.CharField(help_text="Why not, when you may not decide.")
    labels_hidden = serializers.BooleanField()
    pairs = PairOutput(many=True)


class PairStateOutput(serializers.Serializer):
    clause = serializers.IntegerField()
    clause_key = serializers.CharField()
    state = serializers.CharField()
    current_decision = DecisionOutput(allow_null=True)


class DecidedItemOutput(serializers.Serializer):
    id = serializers.IntegerField()
    state = serializers.CharField()


class DecisionWrittenOutput(serializers.Serializer):
    decision = DecisionOutput()
    pair = PairStateOutput()
    item = DecidedItemOutput()


class DecisionConflictOutput(serializers.Serializer):
    detail = serializers.CharField()
    current = PairStateOutput()


_EXPECTED_HELP = (
    "The id of the pair's current decision as you saw it (from the item's adjudication view), "
    "null if it had none. If another decision became current meanwhile: 409 with the pair as it "
    "is now, and nothing is written."
)


class DecisionInput(serializers.Serializer):
    clause = ClauseRefField(help_text="A clause in the campaign's scope, by id or key.")
    verdict = serializers.CharField(max_length=MAX_VALUE, help_text="From the verdict scale.")
    severity = serializers.CharField(
        max_length=MAX_VALUE, allow_blank=True, required=False, default=""
    )
    rationale = serializers.CharField(max_length=MAX_RATIONALE)
    expected_decision = serializers.IntegerField(
        allow_null=True, min_value=1, help_text=_EXPECTED_HELP
    )


class ReopenInput(serializers.Serializer):
    clause = ClauseRefField(help_text="A clause in the campaign's scope, by id or key.")
    reason = serializers.CharField(max_length=MAX_REASON)
    expected_decision = serializers.IntegerField(min_value=1, help_text=_EXPECTED_HELP)


# --------------------------------------------------------------------------------------------------
# Views
# --------------------------------------------------------------------------------------------------


@extend_schema(
    summary="List the pairs needing adjudication",
    description="The campaign's (item, clause) pairs that need an adjudicator: disputed under the "
    "campaign's rule (reopened gold included) and, when the campaign does not make agreed pairs "
    "gold on their own, agreed pairs that are not gold yet. In item order, then clause order.",
    parameters=[OpenApiParameter("clause", str, description="Only this clause (its id or key).")],
)
class AdjudicationQueueView(WorkspaceAPIMixin, generics.ListAPIView):
    read_permission = "gold.adjudicate"
    serializer_class = QueuePairOutput

    def get_queryset(self) -> QuerySet[Outcome]:
        campaign = campaign_selectors.get_campaign(self.workspace, self.kwargs["campaign_id"])
        raw = self.request.query_params.get("clause", "").strip()
        clause_id = None
        if raw:
            ref: int | str = int(raw) if raw.isascii() and raw.isdigit() else raw[:120]
            clause_id = resolve_clauses(campaign, [ref])[ref].pk
        return selectors.adjudication_queue(campaign, clause_id=clause_id)


class AdjudicationItemView(WorkspaceAPIMixin, APIView):
    read_permission = "gold.adjudicate"

    @extend_schema(
        responses={200: AdjudicationItemOutput},
        summary="An item as an adjudicator sees it",
        description="Per clause in scope: every submitted label with its rationale and spans "
        "(a model judge's marked by its source), the clause text and examples, the pair's state, "
        "its current decision (whose id a decision names as expected_decision) and its history.",
    )
    def get(self, request: Request, workspace: str, campaign_id: int, item_id: int) -> Response:
        item = access.item_in_workspace(
            self.workspace, item_id, campaign_id=campaign_id, with_messages=True
        )
        view = selectors.adjudication_item(item=item, membership=self.membership)
        return Response(presenters.item_output(view))


def _written(item: Item, decision: GoldDecision, clause_key: str) -> dict[str, Any]:
    state, _ = selectors.pair_state(item, decision.clause_id)
    return {
        "decision": presenters.decision_output(decision),
        "pair": presenters.conflict_output(
            clause_id=decision.clause_id, clause_key=clause_key, state=state, current=decision
        ),
        "item": {"id": item.pk, "state": item.state},
    }


def _conflict(item: Item, clause_id: int, clause_key: str) -> Conflict:
    state, current = selectors.pair_state(item, clause_id)
    return Conflict(
        "The decision on this clause changed since you loaded it.",
        current=presenters.conflict_output(
            clause_id=clause_id, clause_key=clause_key, state=state, current=current
        ),
    )


class DecisionRecordView(WorkspaceAPIMixin, APIView):
    write_permission = "gold.adjudicate"

    @extend_schema(
        request=DecisionInput,
        responses={
            201: DecisionWrittenOutput,
            400: OpenApiResponse(description="A verdict or severity off the scale, no rationale."),
            403: OpenApiResponse(
                description="You labeled this item (and the campaign does not "
                "let you settle it), or you may not adjudicate."
            ),
            409: DecisionConflictOutput,
        },
        summary="Record the gold decision on a pair",
        description="Adds a decision of kind adjudicated, superseding the pair's current one "
        "(kept in its history). expected_decision must name the current decision you saw.",
    )
    def post(self, request: Request, workspace: str, campaign_id: int, item_id: int) -> Response:
        item = access.item_in_workspace(self.workspace, item_id, campaign_id=campaign_id)
        data = _valid(DecisionInput, request)
        clause = resolve_clauses(item.campaign, [data["clause"]])[data["clause"]]
        try:
            decision = gold_services.decision_record(
                item=item,
                clause=clause,
                actor=request.user,
                verdict=data["verdict"],
                severity=data["severity"],
                rationale=data["rationale"],
                current_decision_id=data["expected_decision"],
            )
        except gold_services.DecisionConflict:
            raise _conflict(item, clause.pk, clause.key) from None
        return Response(_written(item, decision, clause.key), status=status.HTTP_201_CREATED)


class DecisionReopenView(WorkspaceAPIMixin, APIView):
    write_permission = "gold.adjudicate"

    @extend_schema(
        request=ReopenInput,
        responses={
            201: DecisionWrittenOutput,
            400: OpenApiResponse(description="No gold on the pair to reopen, or no reason."),
            409: DecisionConflictOutput,
        },
        summary="Reopen a pair's gold",
        description="Adds a decision of kind reopened with the reason; the earlier decisions "
        "stay in the history and the pair needs a decision again.",
    )
    def post(self, request: Request, workspace: str, campaign_id: int, item_id: int) -> Response:
        item = access.item_in_workspace(self.workspace, item_id, campaign_id=campaign_id)
        data = _valid(ReopenInput, request)
        clause = resolve_clauses(item.campaign, [data["clause"]])[data["clause"]]
        try:
            decision = gold_services.decision_reopen(
                item=item,
                clause=clause,
                actor=request.user,
                reason=data["reason"],
                current_decision_id=data["expected_decision"],
            )
        except gold_services.DecisionConflict:
            raise _conflict(item, clause.pk, clause.key) from None
        return Response(_written(item, decision, clause.key), status=status.HTTP_201_CREATED)


def _valid(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
