"""Writes of discussion threads: posting and editing comments, the mentions they carry, and
the notifications (in the app and by email) mentions send.

Contract
--------
* A thread is one (item, clause). Callers pass the ``ThreadRef`` that ``access.thread_to_read``
  resolved for the signed-in member: who may read a thread (blind labeling) is decided there,
  and every comment write goes through it first. An amendment's discussion is a thread too
  (``amendment_comment_post``/``amendment_comment_edit``): same bodies, mentions and edit
  history; members who may propose amendments write in it, and its mentions notify like a pair
  thread's (the inbox and the email link to the amendment page). Every member may read an
  amendment (``specs.read``); members with an inbox (``threads.comment``: reviewers and up) are
  mentioned and notified, nobody outside the workspace.
* A body is Markdown, stored as written and rendered sanitized (``clausebook.rendering``); it
  may not be blank nor longer than ``COMMENT_MAX_LENGTH``.
* Only a comment's author edits it. An edit names the revision it started from; a stale one
  raises :class:`CommentConflict` with the comment as it is now. Each edit keeps the body it
  replaced as a ``CommentRevision`` row.
* ``@localpart`` (the part of a member's email before the ``@``) or ``@full@address`` mentions a
  member of the workspace; a local part two members share mentions neither (write the full
  address). Mentions inside code (backticks) are text. Only members who may read the thread
  right now are mentioned and notified: in a blind campaign, a reviewer who has not submitted
  the item would otherwise read others' verdicts in the notification. A member is notified of a
  comment once, however often it is edited; the author never notifies themself.
* Every notification is emailed once, after the transaction commits, by a Celery task that
  claims the row (``emailed_at``), like invitations.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from clausebook import audit, permissions
from clausebook.models import Membership, User, Workspace
from reviews import access
from reviews.access import ThreadRef
from reviews.models import Comment, CommentRevision, Notification, NotificationKind
from reviews.models.threads import COMMENT_MAX_LENGTH
from specs.models import Amendment

# --------------------------------------------------------------------------------------------------
# Mentions (pure)
# --------------------------------------------------------------------------------------------------

_CODE = re.compile(r"```.*?(?:```|\Z)|~~~.*?(?:~~~|\Z)|`[^`\n]*`", re.DOTALL)
# "@" not preceded by a word character (so an email address in the text is no mention), then a
# local part, optionally "@domain" for a full address.
_MENTION = re.compile(
    r"(?<![\w@.+-])@([A-Za-z0-9][A-Za-z0-9._%+-]*(?:@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)?)"
)


def parse_mentions(body: str) -> list[str]:
    """The handles a comment mentions, lower-cased, in order of first appearance, without
    repeats: ``@ana`` gives ``ana``, ``@ana@example.org`` gives ``ana@example.org``. Trailing
    punctuation ends a handle (``@ana.`` is ``ana``); code spans and fenced blocks are skipped."""
    text = _CODE.sub(" ", body or "")
    seen: dict[str, None] = {}
    for match in _MENTION.finditer(text):
        handle = match.group(1).rstrip("._%+-").lower()
        if handle:
            seen.setdefault(handle, None)
    return list(seen)


# --------------------------------------------------------------------------------------------------
# Comments
# --------------------------------------------------------------------------------------------------


class CommentConflict(Exception):
    """An edit of a stale revision; ``current`` is the comment as it is now."""

    def __init__(self, current: Comment) -> None:
        super().__init__("This comment changed since you loaded it.")
        self.current = current


def _clean_body(body: str) -> str:
    if not isinstance(body, str) or not body.strip():
        raise ValidationError({"body": "Write something first: a comment cannot be empty."})
    if len(body) > COMMENT_MAX_LENGTH:
        raise ValidationError(
            {"body": f"At most {COMMENT_MAX_LENGTH} characters ({len(body)} given)."}
        )
    return body


def mentioned_members(
    *, workspace: Workspace, handles: Iterable[str], ref: ThreadRef, author: User
) -> list[User]:
    """The workspace members the handles name who may read the thread now (see the module),
    the author left out. One query for the members, one per candidate for the blind check."""
    named = _members_named(workspace=workspace, handles=handles, author=author)
    return [member.user for member in named if access.thread_open_to(member, ref.item)]


def _members_named(
    *, workspace: Workspace, handles: Iterable[str], author: User
) -> list[Membership]:
    """The active workspace members the handles name unambiguously, the author left out."""
    handles = [handle for handle in handles if handle]
    if not handles:
        return []
    members = list(Membership.objects.filter(workspace=workspace).select_related("user"))
    by_email = {m.user.email.lower(): m for m in members}
    by_local: dict[str, list[Membership]] = {}
    for member in members:
        by_local.setdefault(member.user.email.lower().split("@", 1)[0], []).append(member)
    chosen: dict[int, Membership] = {}
    for handle in handles:
        if "@" in handle:
            found = [by_email[handle]] if handle in by_email else []
        else:
            found = by_local.get(handle, [])
        if len(found) == 1 and found[0].user_id != author.pk and found[0].user.is_active:
            chosen.setdefault(found[0].user_id, found[0])
    return list(chosen.values())


def _notify(*, comment: Comment, recipients: list[User]) -> list[Notification]:
    """Mention and notify ``recipients`` not notified of ``comment`` yet; enqueue each email on
    commit."""
    already = set(
        Notification.objects.filter(comment=comment, kind=NotificationKind.MENTION).values_list(
            "recipient_id", flat=True
        )
    )
    fresh = [user for user in recipients if user.pk not in already]
    if not fresh:
        return []
    comment.mentions.add(*fresh)
    created = Notification.objects.bulk_create(
        [
            Notification(
                workspace_id=comment.workspace_id,
                recipient=user,
                kind=NotificationKind.MENTION,
                comment=comment,
            )
            for user in fresh
        ]
    )
    from reviews.tasks import send_notification_email

    for notification in created:
        send_notification_email.delay_on_commit(notification.pk)
    return created


@transaction.atomic
def comment_post(*, ref: ThreadRef, author: User, body: str) -> Comment:
    """Post a comment on the thread ``ref`` (see the module contract)."""
    body = _clean_body(body)
    item = ref.item
    workspace = item.campaign.workspace
    comment = Comment.objects.create(
        workspace=workspace, item=item, clause=ref.clause, author=author, body=body
    )
    recipients = mentioned_members(
        workspace=workspace, handles=parse_mentions(body), ref=ref, author=author
    )
    notified = _notify(comment=comment, recipients=recipients)
    audit.record(
        verb="comment.post",
        actor=author,
        workspace=workspace,
        target=comment,
        summary=f"item {item.pk} clause {ref.clause.key}: {body[:120]}",
        data={
            "item": item.pk,
            "clause": ref.clause.pk,
            "mentions": [n.recipient_id for n in notified],
        },
    )
    return comment


@transaction.atomic
def comment_edit(
    *, ref: ThreadRef, comment: Comment, editor: User, body: str, revision: int
) -> Comment:
    """Replace the body of ``comment`` (a comment of thread ``ref``), keeping the old one in its
    history. Raises PermissionDenied (not the author), ValidationError (bad body) and
    CommentConflict (``revision`` is not the comment's)."""
    current, changed = _replace_body(comment=comment, editor=editor, body=body, revision=revision)
    if not changed:
        return current  # nothing changed: no revision, no history
    workspace = ref.item.campaign.workspace
    recipients = mentioned_members(
        workspace=workspace, handles=parse_mentions(current.body), ref=ref, author=editor
    )
    notified = _notify(comment=current, recipients=recipients)
    audit.record(
        verb="comment.edit",
        actor=editor,
        workspace=workspace,
        target=current,
        summary=f"item {ref.item.pk} clause {ref.clause.key}: revision {current.revision}",
        data={"revision": current.revision, "mentions": [n.recipient_id for n in notified]},
    )
    current.author = comment.author
    return current


def _replace_body(
    *, comment: Comment, editor: User, body: str, revision: int
) -> tuple[Comment, bool]:
    """The edit both kinds of thread share: author check, body check, revision check under a
    row lock, the replaced body kept as a ``CommentRevision``. Returns the comment as it is now
    and whether it changed."""
    if comment.author_id != editor.pk:
        raise PermissionDenied("Only the author can edit a comment.")
    body = _clean_body(body)
    now = timezone.now()
    current = Comment.objects.select_for_update().get(pk=comment.pk)
    if current.revision != revision:
        raise CommentConflict(current)
    if current.body == body:
        return current, False
    CommentRevision.objects.create(
        comment=current,
        revision=current.revision,
        body=current.body,
        edited_by=editor,
        edited_at=now,
    )
    # The row lock above already serialises edits; the revision in the WHERE keeps the write
    # honest should anything else ever update the row without it.
    Comment.objects.filter(pk=current.pk, revision=revision).update(
        body=body, revision=F("revision") + 1, edited_at=now
    )
    current.refresh_from_db()
    return current, True


# --------------------------------------------------------------------------------------------------
# Amendment discussions
# --------------------------------------------------------------------------------------------------

#: Who may write in an amendment's discussion: whoever may propose amendments (adjudicators,
#: editors, admins). Every member who reads specs reads the discussion.
AMENDMENT_COMMENT_PERMISSION = "amendments.propose"


def _amendment_commenter(amendment: Amendment, user: User) -> Membership:
    membership = Membership.objects.filter(
        workspace_id=amendment.spec.workspace_id, user_id=user.pk
    ).first()
    if membership is None:
        raise PermissionDenied("Only members of the workspace may discuss its amendments.")
    permissions.require(membership, AMENDMENT_COMMENT_PERMISSION)
    return membership


#: Who may read an amendment. A mention notifies those of them who also have an inbox to read
#: it in (``threads.comment``, the inbox's right): viewers read specs but have no inbox.
AMENDMENT_READ_PERMISSION = "specs.read"
INBOX_PERMISSION = "threads.comment"


def _mention_on_amendment(
    *, comment: Comment, workspace: Workspace, author: User
) -> list[Notification]:
    """Mention and notify the members the comment names who may read the amendment (no blind
    rule applies to a spec) and have an inbox, the author left out; members already notified of
    this comment are not notified again (``_notify``)."""
    named = _members_named(workspace=workspace, handles=parse_mentions(comment.body), author=author)
    users = [
        m.user
        for m in named
        if permissions.can(m, AMENDMENT_READ_PERMISSION) and permissions.can(m, INBOX_PERMISSION)
    ]
    return _notify(comment=comment, recipients=users)


@transaction.atomic
def amendment_comment_post(*, amendment: Amendment, author: User, body: str) -> Comment:
    """Post a comment in the discussion of ``amendment`` (Markdown, the same limits and
    mentions as pair threads). PermissionDenied below ``amendments.propose``."""
    _amendment_commenter(amendment, author)
    body = _clean_body(body)
    workspace = amendment.spec.workspace
    comment = Comment.objects.create(
        workspace=workspace, amendment=amendment, author=author, body=body
    )
    notified = _mention_on_amendment(comment=comment, workspace=workspace, author=author)
    audit.record(
        verb="comment.post",
        actor=author,
        workspace=workspace,
        target=comment,
        summary=f"amendment #{amendment.pk}: {body[:120]}",
        data={"amendment": amendment.pk, "mentions": [n.recipient_id for n in notified]},
    )
    return comment


@transaction.atomic
def amendment_comment_edit(
    *, amendment: Amendment, comment: Comment, editor: User, body: str, revision: int
) -> Comment:
    """Replace the body of ``comment`` (a comment on ``amendment``), keeping the old one in its
    history. PermissionDenied (not the author, or the right was lost), ValidationError (bad
    body or not this amendment's comment), CommentConflict (``revision`` is stale)."""
    if comment.amendment_id != amendment.pk:
        raise ValidationError({"comment": "This comment is not in this amendment's discussion."})
    _amendment_commenter(amendment, editor)
    current, changed = _replace_body(comment=comment, editor=editor, body=body, revision=revision)
    if not changed:
        return current
    workspace = amendment.spec.workspace
    notified = _mention_on_amendment(comment=current, workspace=workspace, author=editor)
    audit.record(
        verb="comment.edit",
        actor=editor,
        workspace=workspace,
        target=current,
        summary=f"amendment #{amendment.pk}: revision {current.revision}",
        data={"revision": current.revision, "mentions": [n.recipient_id for n in notified]},
    )
    current.author = comment.author
    return current


# --------------------------------------------------------------------------------------------------
# Notifications
# --------------------------------------------------------------------------------------------------


def thread_path(*, workspace_slug: str, campaign_id: int, item_id: int, clause_key: str) -> str:
    return reverse("reviews:thread-detail", args=[workspace_slug, campaign_id, item_id, clause_key])


def amendment_path(*, workspace_slug: str, amendment: Amendment) -> str:
    return reverse(
        "specs:amendment-detail", args=[workspace_slug, amendment.spec.slug, amendment.pk]
    )


def notification_target(notification: Notification, workspace_slug: str) -> tuple[str, str]:
    """What a notification is about, as a line of the inbox and the email say it, and the path
    of the page to open (at the comment): an (item, clause) thread or an amendment page.
    Expects the comment's item, clause and amendment (with its spec) joined."""
    comment = notification.comment
    anchor = f"#comment-{comment.pk}"
    if comment.amendment_id is not None:
        amendment = comment.amendment
        return (
            f"amendment #{amendment.pk} “{amendment.title}”",
            amendment_path(workspace_slug=workspace_slug, amendment=amendment) + anchor,
        )
    return (
        f"{comment.clause.key}, item #{comment.item.position + 1}",
        thread_path(
            workspace_slug=workspace_slug,
            campaign_id=comment.item.campaign_id,
            item_id=comment.item_id,
            clause_key=comment.clause.key,
        )
        + anchor,
    )


#: What ``notification_target`` reads, for ``select_related``.
NOTIFICATION_TARGET_RELATED = (
    "comment__author",
    "comment__item",
    "comment__clause",
    "comment__amendment__spec",
)


def _may_still_read(membership: Membership, comment: Comment) -> bool:
    if comment.amendment_id is not None:
        return permissions.can(membership, AMENDMENT_READ_PERMISSION) and permissions.can(
            membership, INBOX_PERMISSION
        )
    return access.thread_open_to(membership, comment.item)


@transaction.atomic
def notification_email_send(*, notification_id: int) -> bool:
    """Email one notification, once; False when there is nothing to send (already emailed, being
    emailed by another delivery, or its recipient left the workspace or can no longer read the
    thread). The row is locked and ``emailed_at`` set in the transaction of the send, so a
    redelivered task does nothing, and a failed send rolls back and is retried."""
    notification = (
        Notification.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("recipient", "workspace", *NOTIFICATION_TARGET_RELATED)
        .filter(pk=notification_id, emailed_at__isnull=True)
        .first()
    )
    if notification is None:
        return False
    comment = notification.comment
    membership = (
        Membership.objects.filter(workspace=notification.workspace, user=notification.recipient)
        .select_related("workspace")
        .first()
    )
    if (
        membership is None
        or not notification.recipient.is_active
        or not _may_still_read(membership, comment)
    ):
        return False
    workspace = notification.workspace
    about, path = notification_target(notification, workspace.slug)
    link = settings.SITE_URL.rstrip("/") + path
    excerpt = comment.body if len(comment.body) <= 1000 else comment.body[:1000] + "…"
    if comment.amendment_id is not None:
        subject_about, where = f"amendment #{comment.amendment_id}", f"the discussion of {about}"
    else:
        subject_about = comment.clause.key
        where = f"the discussion of item {comment.item.position + 1} against {comment.clause.key}"
    send_mail(
        subject=f"{comment.author.short_name} mentioned you on {subject_about} in {workspace.name}",
        message=(
            f"{comment.author.short_name} mentioned you in {where}:\n\n{excerpt}\n\n"
            f"Read and reply: {link}"
        ),
        from_email=None,
        recipient_list=[notification.recipient.email],
    )
    Notification.objects.filter(pk=notification.pk).update(emailed_at=timezone.now())
    return True


@transaction.atomic
def notifications_mark_read(
    *, recipient: User, workspace: Workspace, ids: Iterable[int] | None = None
) -> int:
    """Mark the recipient's unread notifications in the workspace read (only ``ids`` when
    given; ids of anyone else's are ignored); return how many changed."""
    unread = Notification.objects.filter(
        recipient=recipient, workspace=workspace, read_at__isnull=True
    )
    if ids is not None:
        unread = unread.filter(pk__in=list(ids))
    return unread.update(read_at=timezone.now())
