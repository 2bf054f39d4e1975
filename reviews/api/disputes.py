"""REST API for disagreements: a campaign's dispute queue, one (item, clause) thread (its
labels, comments and outcome), posting and editing comments, revising one's own label during a
dispute, and notifications.

Every view scopes by workspace through ``WorkspaceAPIMixin`` and resolves the pair through
``reviews.access.thread_to_read`` (404 outside the workspace, campaign or scope; 403 while
blind labeling keeps the thread closed to the caller), then reads through the selectors the
pages use and writes through the same services. Services raise; ``clausebook.api_errors``
answers (409 ``{"detail", "current"}`` for a stale revision).
"""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from clausebook.access import WorkspaceAPIMixin
from clausebook.api_errors import Conflict
from clausebook.rendering import render_markdown
from reviews import access, presenters
from reviews.models import Comment, Label
from reviews.models.threads import COMMENT_MAX_LENGTH
from reviews.selectors import campaigns as campaign_selectors
from reviews.selectors import disputes as selectors
from reviews.services import threads as services
from reviews.services.labels.core import MAX_RATIONALE, MAX_VALUE, LabelConflict
from reviews.services.labels.revise import label_revise

_RIGHT = "threads.comment"

# --------------------------------------------------------------------------------------------------
# Serializers
# --------------------------------------------------------------------------------------------------


class ClauseCountOutput(serializers.Serializer):
    key = serializers.CharField()
    title = serializers.CharField()
    disputed = serializers.IntegerField()


class DisputeOutput(serializers.Serializer):
    item = serializers.IntegerField(source="item_id")
    item_position = serializers.IntegerField()
    external_id = serializers.CharField()
    clause_key = serializers.CharField()
    clause_title = serializers.CharField()
    state = serializers.CharField(source="outcome.state")
    verdict_count = serializers.IntegerField(source="outcome.verdict_count")
    top_verdict = serializers.CharField(source="outcome.top_verdict")
    verdicts = serializers.DictField(child=serializers.IntegerField())
    severity = serializers.CharField(help_text="The highest severity among the labels.")
    changed_at = serializers.DateTimeField(help_text="When the pair became disputed.")
    comments = serializers.IntegerField()


class DisputeQueueOutput(serializers.Serializer):
    count = serializers.IntegerField()
    page = serializers.IntegerField()
    pages = serializers.IntegerField()
    clauses = ClauseCountOutput(many=True)
    results = DisputeOutput(many=True)


class ThreadLabelOutput(serializers.Serializer):
    id = serializers.IntegerField()
    source = serializers.CharField()
    author = serializers.SerializerMethodField()
    reviewer = serializers.EmailField(source="reviewer.email", allow_null=True, default=None)
    verdict = serializers.CharField()
    severity = serializers.CharField()
    rationale = serializers.CharField()
    spans = serializers.ListField(child=serializers.DictField())
    status = serializers.CharField()
    revision = serializers.IntegerField()
    updated_at = serializers.DateTimeField()

    def get_author(self, label: Label) -> str:
        return presenters.label_author(label)


class CommentVersionOutput(serializers.Serializer):
    revision = serializers.IntegerField()
    body = serializers.CharField()
    edited_by = serializers.EmailField(source="edited_by.email")
    edited_at = serializers.DateTimeField()


class CommentOutput(serializers.Serializer):
    id = serializers.IntegerField()
    author = serializers.EmailField(source="author.email")
    body = serializers.CharField(help_text="Markdown, as written.")
    html = serializers.SerializerMethodField(help_text="The body rendered and sanitized.")
    revision = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    edited_at = serializers.DateTimeField(allow_null=True)
    history = CommentVersionOutput(
        many=True, source="history.all", help_text="Earlier versions, oldest first."
    )

    def get_html(self, comment: Comment) -> str:
        return str(render_markdown(comment.body))


class OutcomeOutput(serializers.Serializer):
    state = serializers.CharField()
    verdict_count = serializers.IntegerField()
    top_verdict = serializers.CharField()


class ThreadOutput(serializers.Serializer):
    campaign = serializers.IntegerField()
    item = serializers.IntegerField()
    clause_key = serializers.CharField()
    outcome = OutcomeOutput()
    labels = ThreadLabelOutput(many=True)
    comments = CommentOutput(many=True)


class CommentInput(serializers.Serializer):
    body = serializers.CharField(max_length=COMMENT_MAX_LENGTH, trim_whitespace=False)


class CommentEditInput(CommentInput):
    revision = serializers.IntegerField(min_value=1, help_text="The revision you last saw.")


class ReviseInput(serializers.Serializer):
    verdict = serializers.CharField(required=False, max_length=MAX_VALUE)
    severity = serializers.CharField(allow_blank=True, required=False, max_length=MAX_VALUE)
    rationale = serializers.CharField(
        allow_blank=True, required=False, max_length=MAX_RATIONALE, trim_whitespace=False
    )
    revision = serializers.IntegerField(min_value=1, help_text="Your label's revision.")


class RevisedOutput(serializers.Serializer):
    label = ThreadLabelOutput()
    outcome_state = serializers.CharField()
    item_state = serializers.CharField()


class NotificationOutput(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    created_at = serializers.DateTimeField()
    read_at = serializers.DateTimeField(allow_null=True)
    comment = serializers.IntegerField(source="comment_id")
    author = serializers.EmailField(source="comment.author.email")
    campaign = serializers.IntegerField(
        source="comment.item.campaign_id", allow_null=True, help_text="Null on an amendment."
    )
    item = serializers.IntegerField(
        source="comment.item_id", allow_null=True, help_text="Null on an amendment."
    )
    clause_key = serializers.CharField(
        source="comment.clause.key", allow_null=True, help_text="Null on an amendment."
    )
    amendment = serializers.IntegerField(
        source="comment.amendment_id",
        allow_null=True,
        help_text="The amendment whose discussion mentions you; null on an (item, clause) thread.",
    )
    about = serializers.CharField(help_text="What the comment is on, as the inbox says it.")
    url = serializers.CharField(help_text="The page of the discussion, at the comment.")


class NotificationPageOutput(serializers.Serializer):
    count = serializers.IntegerField()
    unread = serializers.IntegerField()
    page = serializers.IntegerField()
    pages = serializers.IntegerField()
    results = NotificationOutput(many=True)


class NotificationsReadInput(serializers.Serializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        max_length=500,
        help_text="Only these (yours); all your unread ones when left out.",
    )


def _page_size(request: Request) -> int:
    raw = request.query_params.get("page_size", "")
    if not raw:
        return selectors.QUEUE_PAGE_SIZE
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= selectors.QUEUE_MAX_PAGE_SIZE:
        raise serializers.ValidationError(
            {"page_size": [f"Send a number from 1 to {selectors.QUEUE_MAX_PAGE_SIZE}."]}
        )
    return int(raw)


def _page_number(request: Request) -> int:
    raw = request.query_params.get("page", "1") or "1"
    if not (raw.isascii() and raw.isdigit()) or int(raw) < 1 or len(raw) > 9:
        raise serializers.ValidationError({"page": ["Send a page number from 1."]})
    return int(raw)


# --------------------------------------------------------------------------------------------------
# Views
# --------------------------------------------------------------------------------------------------


class _ThreadMixin(WorkspaceAPIMixin):
    read_permission = _RIGHT
    write_permission = _RIGHT

    def thread(self, kwargs: dict[str, Any]) -> access.ThreadRef:
        return access.thread_to_read(
            self.membership,
            campaign_id=kwargs["campaign_id"],
            item_id=kwargs["item_id"],
            clause_key=kwargs["clause_key"],
        )


class DisputeListView(WorkspaceAPIMixin, APIView):
    read_permission = _RIGHT
    #: Pages by number, at most this many rows (a bigger page_size is a 400, not a clamp).
    page_size_limit = selectors.QUEUE_MAX_PAGE_SIZE

    @extend_schema(
        parameters=[
            OpenApiParameter("clause", str, description="Only this clause (its key)."),
            OpenApiParameter(
                "severity", str, description="Highest severity at least this (a scale value)."
            ),
            OpenApiParameter("older_than", int, description="Disputed at least N days ago."),
            OpenApiParameter("newer_than", int, description="Disputed at most N days ago."),
            OpenApiParameter("sort", str, enum=list(selectors.QUEUE_SORTS)),
            OpenApiParameter("page", int),
            OpenApiParameter("page_size", int),
        ],
        responses=DisputeQueueOutput,
        summary="A campaign's disputed (item, clause) pairs, with counts per clause",
        description="The pairs the campaign's rule calls disputed and nobody has adjudicated. "
        "In a blind campaign a reviewer sees only pairs of items they have submitted.",
    )
    def get(self, request: Request, workspace: str, campaign_id: int) -> Response:
        campaign = campaign_selectors.get_campaign(self.workspace, campaign_id)
        campaign.workspace = self.workspace
        filters = selectors.queue_filters(campaign, request.query_params)
        size, number = _page_size(request), _page_number(request)
        queue = selectors.dispute_queue(
            self.membership, campaign, filters, page=number, page_size=size
        )
        return Response(
            DisputeQueueOutput(
                {
                    "count": queue.page.paginator.count,
                    "page": queue.page.number,
                    "pages": queue.page.paginator.num_pages,
                    "clauses": queue.clause_counts,
                    "results": queue.rows,
                }
            ).data
        )


def _thread_output(page: selectors.ThreadPage) -> dict[str, Any]:
    outcome = page.outcome
    return ThreadOutput(
        {
            "campaign": page.ref.item.campaign_id,
            "item": page.ref.item.pk,
            "clause_key": page.ref.clause.key,
            "outcome": outcome or {"state": page.state, "verdict_count": 0, "top_verdict": ""},
            "labels": page.labels,
            "comments": page.comments,
        }
    ).data


class ThreadDetailView(_ThreadMixin, APIView):
    @extend_schema(
        responses=ThreadOutput,
        summary="One (item, clause) thread: the labels side by side, comments, outcome",
        description="In a blind campaign, 403 until you have submitted your own labels on the "
        "item.",
    )
    def get(self, request: Request, **kwargs: Any) -> Response:
        ref = self.thread(kwargs)
        return Response(_thread_output(selectors.thread_page(self.membership, ref)))


class ThreadCommentsView(_ThreadMixin, APIView):
    @extend_schema(responses=CommentOutput(many=True), summary="A thread's comments")
    def get(self, request: Request, **kwargs: Any) -> Response:
        ref = self.thread(kwargs)
        return Response(CommentOutput(selectors.thread_comments(ref), many=True).data)

    @extend_schema(
        request=CommentInput,
        responses={201: CommentOutput},
        summary="Post a comment (Markdown; @mentions notify workspace members)",
    )
    def post(self, request: Request, **kwargs: Any) -> Response:
        ref = self.thread(kwargs)
        data = CommentInput(data=request.data)
        data.is_valid(raise_exception=True)
        comment = services.comment_post(
            ref=ref, author=request.user, body=data.validated_data["body"]
        )
        comment = selectors.thread_comments(ref).get(pk=comment.pk)
        return Response(CommentOutput(comment).data, status=status.HTTP_201_CREATED)


class CommentDetailView(_ThreadMixin, APIView):
    @extend_schema(responses=CommentOutput, summary="One comment, with its earlier versions")
    def get(self, request: Request, comment_id: int, **kwargs: Any) -> Response:
        ref = self.thread(kwargs)
        selectors.comment_in_thread(ref, comment_id)
        return Response(CommentOutput(selectors.thread_comments(ref).get(pk=comment_id)).data)

    @extend_schema(
        request=CommentEditInput,
        responses={200: CommentOutput, 409: CommentOutput},
        summary="Edit my comment: 403 for anyone else's, 409 if the revision is stale",
    )
    def patch(self, request: Request, comment_id: int, **kwargs: Any) -> Response:
        ref = self.thread(kwargs)
        comment = selectors.comment_in_thread(ref, comment_id)
        data = CommentEditInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            services.comment_edit(
                ref=ref,
                comment=comment,
                editor=request.user,
                body=data.validated_data["body"],
                revision=data.validated_data["revision"],
            )
        except services.CommentConflict as conflict:
            current = selectors.thread_comments(ref).get(pk=conflict.current.pk)
            raise Conflict(
                "This comment changed since you loaded it.", current=CommentOutput(current).data
            ) from conflict
        return Response(CommentOutput(selectors.thread_comments(ref).get(pk=comment_id)).data)


class LabelReviseView(_ThreadMixin, APIView):
    write_permission = "labels.write"

    @extend_schema(
        request=ReviseInput,
        responses={200: RevisedOutput, 409: ThreadLabelOutput},
        summary="Revise my submitted label on a disputed pair (after the reveal)",
        description="Only while the pair is disputed and not adjudicated, the campaign open. "
        "The change is a row of the label's history (kind revise) and the pair's outcome is "
        "decided again. A stale revision: 409 with your label as it is now.",
    )
    def post(self, request: Request, **kwargs: Any) -> Response:
        ref = self.thread(kwargs)
        page = selectors.thread_page(self.membership, ref)
        if page.mine is None:
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied("You have no label on this pair to revise.")
        data = ReviseInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        try:
            revised = label_revise(
                label=page.mine,
                reviewer=request.user,
                revision=values["revision"],
                verdict=values.get("verdict"),
                severity=values.get("severity"),
                rationale=values.get("rationale"),
            )
        except LabelConflict as conflict:
            current = Label.objects.select_related("reviewer").get(pk=page.mine.pk)
            raise Conflict(current=ThreadLabelOutput(current).data) from conflict
        label = revised.label
        label.reviewer = request.user
        return Response(
            RevisedOutput(
                {
                    "label": label,
                    "outcome_state": revised.outcome_state,
                    "item_state": revised.item_state,
                }
            ).data
        )


class NotificationListView(WorkspaceAPIMixin, APIView):
    read_permission = _RIGHT
    page_size_limit = selectors.QUEUE_MAX_PAGE_SIZE

    @extend_schema(
        parameters=[OpenApiParameter("page", int), OpenApiParameter("page_size", int)],
        responses=NotificationPageOutput,
        summary="My notifications in this workspace, newest first",
    )
    def get(self, request: Request, workspace: str) -> Response:
        shown = Paginator(
            selectors.notifications_of(self.membership), _page_size(request)
        ).get_page(_page_number(request))
        for notification in shown:
            notification.about, notification.url = services.notification_target(
                notification, self.workspace.slug
            )
        return Response(
            NotificationPageOutput(
                {
                    "count": shown.paginator.count,
                    "unread": selectors.unread_count(request.user, self.workspace.pk),
                    "page": shown.number,
                    "pages": shown.paginator.num_pages,
                    "results": list(shown.object_list),
                }
            ).data
        )


class NotificationsReadView(WorkspaceAPIMixin, APIView):
    write_permission = _RIGHT

    @extend_schema(
        request=NotificationsReadInput,
        responses={200: {"type": "object", "properties": {"marked": {"type": "integer"}}}},
        summary="Mark my notifications read (these ids, or all)",
    )
    def post(self, request: Request, workspace: str) -> Response:
        data = NotificationsReadInput(data=request.data)
        data.is_valid(raise_exception=True)
        marked = services.notifications_mark_read(
            recipient=request.user, workspace=self.workspace, ids=data.validated_data.get("ids")
        )
        return Response({"marked": marked})
