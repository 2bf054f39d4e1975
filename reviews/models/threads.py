"""Discussion threads' own tables: a comment's edit history and the notifications mentions send.

The comments themselves are ``reviews.models.gold.Comment`` (one thread per (item, clause), and
one per amendment); a notification points at its comment, so it is about either kind.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from clausebook.models import Workspace
from reviews.models.gold import Comment

#: The longest comment body accepted, in characters: its one home (the service, the form and
#: the API serializer read it).
COMMENT_MAX_LENGTH = 10_000


class CommentRevision(models.Model):
    """One edit of a comment: the body as it was before, and who replaced it when.

    ``revision`` is the comment's revision that body belonged to, so a thread can show every
    version in order (the current one is on the comment)."""

    comment = models.ForeignKey(Comment, on_delete=models.CASCADE, related_name="history")
    revision = models.PositiveIntegerField()
    body = models.TextField()
    edited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    edited_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["comment", "revision"], name="comment_revision_unique")
        ]
        ordering = ["comment_id", "revision"]


class NotificationKind(models.TextChoices):
    MENTION = "mention", "Mentioned you"


class Notification(models.Model):
    """Something a member should hear about in a workspace: for now, a comment that mentions
    them. Read in the app (``read_at``) and emailed once (``emailed_at``: the email task claims
    the row by it)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(
        max_length=12, choices=NotificationKind.choices, default=NotificationKind.MENTION
    )
    comment = models.ForeignKey(Comment, on_delete=models.CASCADE, related_name="notifications")
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # A comment mentions a member once, however often it is edited.
            models.UniqueConstraint(
                fields=["recipient", "comment", "kind"], name="notification_once"
            )
        ]
        indexes = [
            # The inbox, newest first, and the unread count: one range each.
            models.Index(fields=["recipient", "workspace", "id"], name="notification_inbox"),
            models.Index(
                fields=["recipient", "workspace"],
                condition=models.Q(read_at__isnull=True),
                name="notification_unread",
            ),
        ]
