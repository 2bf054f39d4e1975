"""Discussion threads per (item, clause): who may read them (blind labeling), Markdown that comes
out inert, mentions that notify in the app and by email, edits with history and 409s."""

from __future__ import annotations

import pytest
from celery.signals import before_task_publish
from django.core import mail
from django.urls import reverse

from clausebook.celery import app
from clausebook.models import Membership, Role
from reviews import access
from reviews.models import Comment, CommentRevision, Notification
from reviews.models.threads import COMMENT_MAX_LENGTH
from reviews.services import threads
from reviews.services.campaigns import item_claim_next
from reviews.services.threads import parse_mentions
from tests.factories import UserFactory
from tests.reviews.factories import label_and_submit, make_campaign


# --- Mentions, parsed without a database ------------------------------------------------------
def test_mentions_are_local_parts_or_full_addresses_in_order_without_repeats():
    body = "@Ana, see @bo@example.org and @ana again. Mail me at x@y.org. `@code` @end."
    assert parse_mentions(body) == ["ana", "bo@example.org", "end"]


def test_mentions_inside_fenced_code_are_text():
    assert parse_mentions("```\n@nobody\n```\nthanks @someone") == ["someone"]


# --- With a campaign --------------------------------------------------------------------------


@pytest.fixture
def discussed(personas):  # type: ignore[no-untyped-def]
    """Blind, k = 3, one item, two clauses: the two reviewers have submitted and disagree on
    the first clause; a third reviewer holds the item unfinished."""
    third = UserFactory(email="third@policy.test")
    Membership.objects.create(workspace=personas.workspace, user=third, role=Role.REVIEWER)
    campaign = make_campaign(
        personas.workspace,
        created_by=personas.owner,
        reviewers=[personas.reviewer, personas.second_reviewer, third],
        transcripts=1,
        clause_count=2,
        k=3,
    )
    label_and_submit(campaign, personas.reviewer, ["complies", "complies"])
    label_and_submit(campaign, personas.second_reviewer, ["violates", "complies"])
    item_claim_next(campaign=campaign, reviewer=third)  # claimed, not submitted
    item = campaign.items.get()
    clause = campaign.campaign_clauses.order_by("position").first().clause
    return campaign, item, clause, third


def _thread_url(personas, campaign, item, clause, api=False):  # type: ignore[no-untyped-def]
    name = "api-thread-detail" if api else "reviews:thread-detail"
    return reverse(name, args=[personas.workspace.slug, campaign.pk, item.pk, clause.key])


def _comments_url(personas, campaign, item, clause, api=False):  # type: ignore[no-untyped-def]
    name = "api-thread-comments" if api else "reviews:comment-create"
    return reverse(name, args=[personas.workspace.slug, campaign.pk, item.pk, clause.key])


def _ref(personas, user, campaign, item, clause):  # type: ignore[no-untyped-def]
    membership = Membership.objects.select_related("workspace").get(
        workspace=personas.workspace, user=user
    )
    return access.thread_to_read(
        membership, campaign_id=campaign.pk, item_id=item.pk, clause_key=clause.key
    )


@pytest.mark.django_db
def test_a_reviewer_who_has_not_submitted_sees_no_thread_and_no_labels(personas, discussed):
    campaign, item, clause, third = discussed
    threads.comment_post(
        ref=_ref(personas, personas.reviewer, campaign, item, clause),
        author=personas.reviewer,
        body="I read it as **complies** because SECRET-REASON.",
    )
    client = personas.client_for(third)
    page = client.get(_thread_url(personas, campaign, item, clause))
    assert page.status_code == 403
    assert b"SECRET-REASON" not in page.content and b"violates" not in page.content
    api = client.get(_thread_url(personas, campaign, item, clause, api=True))
    assert api.status_code == 403 and "SECRET-REASON" not in api.content.decode()
    listed = client.get(_comments_url(personas, campaign, item, clause, api=True))
    assert listed.status_code == 403
    posted = client.post(_comments_url(personas, campaign, item, clause), {"body": "hi"})
    assert posted.status_code == 403 and not Comment.objects.filter(author=third).exists()


@pytest.mark.django_db
def test_after_submitting_a_reviewer_sees_the_others_labels_and_the_thread(personas, discussed):
    campaign, item, clause, _third = discussed
    client = personas.client_for(personas.reviewer)
    client.post(_comments_url(personas, campaign, item, clause), {"body": "Why *violates*?"})
    page = client.get(_thread_url(personas, campaign, item, clause))
    assert page.status_code == 200
    assert b"violates" in page.content and b"<em>violates</em>" in page.content
    api = client.get(_thread_url(personas, campaign, item, clause, api=True)).json()
    assert {label["verdict"] for label in api["labels"]} == {"complies", "violates"}
    assert api["outcome"]["verdict_count"] == 2  # the third verdict is still to come
    assert [c["body"] for c in api["comments"]] == ["Why *violates*?"]


@pytest.mark.django_db
def test_adjudicators_and_admins_see_every_thread_and_viewers_none(personas, discussed):
    campaign, item, clause, _ = discussed
    for user in (personas.adjudicator, personas.owner):
        response = personas.client_for(user).get(_thread_url(personas, campaign, item, clause))
        assert response.status_code == 200 and b"Violates" in response.content
    viewer = personas.client_for(personas.viewer)
    assert viewer.get(_thread_url(personas, campaign, item, clause)).status_code == 403


@pytest.mark.django_db
def test_an_outsider_and_a_clause_outside_the_scope_get_404(personas, discussed):
    campaign, item, clause, _ = discussed
    outsider = personas.client_for(personas.outsider)
    assert outsider.get(_thread_url(personas, campaign, item, clause)).status_code == 404
    wrong = reverse(
        "reviews:thread-detail",
        args=[personas.workspace.slug, campaign.pk, item.pk, "not_a_clause"],
    )
    assert personas.client_for(personas.owner).get(wrong).status_code == 404


@pytest.mark.django_db
def test_script_tags_and_javascript_links_come_out_inert(personas, discussed):
    campaign, item, clause, _ = discussed
    client = personas.client_for(personas.reviewer)
    body = '<script>alert("x")</script> [click](javascript:alert(1)) <img src=x onerror=alert(1)>'
    response = client.post(
        _comments_url(personas, campaign, item, clause, api=True),
        {"body": body},
        content_type="application/json",
    )
    assert response.status_code == 201
    html = response.json()["html"]
    assert "<script" not in html and "&lt;script&gt;" in html  # shown as text, never run
    assert 'href="javascript:' not in html and "<img" not in html
    page = client.get(_thread_url(personas, campaign, item, clause)).content.decode()
    thread = page[page.index('data-testid="thread-comments"') :]
    assert "<script>alert" not in thread and 'href="javascript:' not in thread
    assert "<img" not in thread


@pytest.mark.django_db
def test_a_blank_or_too_long_comment_is_refused_with_400(personas, discussed):
    campaign, item, clause, _ = discussed
    client = personas.client_for(personas.reviewer)
    url = _comments_url(personas, campaign, item, clause, api=True)
    blank = client.post(url, {"body": "   "}, content_type="application/json")
    assert blank.status_code == 400 and "body" in blank.json()
    long = client.post(
        url, {"body": "x" * (COMMENT_MAX_LENGTH + 1)}, content_type="application/json"
    )
    assert long.status_code == 400 and str(COMMENT_MAX_LENGTH) in long.json()["body"][0]
    # The page's form answers 400 with the reason next to the field, not a 500.
    page = client.post(_comments_url(personas, campaign, item, clause), {"body": "   "})
    assert page.status_code == 400
    assert "Write something first" in page.content.decode()
    assert not Comment.objects.exists()


@pytest.mark.django_db
def test_a_mention_notifies_a_member_in_the_app_and_by_email(personas, discussed):
    campaign, item, clause, _ = discussed
    client = personas.client_for(personas.reviewer)
    client.post(
        _comments_url(personas, campaign, item, clause),
        {"body": "@second-reviewer what did you see? cc @adjudicator@policy.test"},
    )
    notified = set(Notification.objects.values_list("recipient__email", flat=True))
    assert notified == {"second-reviewer@policy.test", "adjudicator@policy.test"}
    inbox = personas.client_for(personas.second_reviewer).get(
        reverse("reviews:notification-list", args=[personas.workspace.slug])
    )
    assert b"1 unread" in inbox.content and b"mentioned you" in inbox.content
    api = (
        personas.client_for(personas.second_reviewer)
        .get(reverse("api-notification-list", args=[personas.workspace.slug]))
        .json()
    )
    assert api["unread"] == 1 and api["results"][0]["clause_key"] == clause.key
    mail.outbox.clear()
    notification = Notification.objects.get(recipient=personas.second_reviewer)
    assert threads.notification_email_send(notification_id=notification.pk)
    [message] = mail.outbox
    assert message.to == ["second-reviewer@policy.test"]
    assert "what did you see?" in message.body
    assert _thread_url(personas, campaign, item, clause) in message.body
    # A second delivery of the same task sends nothing.
    assert not threads.notification_email_send(notification_id=notification.pk)
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_the_email_is_queued_after_commit_with_the_notification_id(
    personas, discussed, django_capture_on_commit_callbacks
):
    campaign, item, clause, _ = discussed
    published = []

    def capture(sender=None, body=None, headers=None, **_):  # type: ignore[no-untyped-def]
        published.append((sender, body))

    before_task_publish.connect(capture)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            threads.comment_post(
                ref=_ref(personas, personas.reviewer, campaign, item, clause),
                author=personas.reviewer,
                body="@second-reviewer look",
            )
    finally:
        before_task_publish.disconnect(capture)
        app.control.purge()
    notification = Notification.objects.get()
    [(sender, body)] = published
    assert sender == "reviews.send_notification_email" and list(body[0]) == [notification.pk]


@pytest.mark.django_db
def test_mentions_reach_only_members_who_may_read_the_thread(personas, discussed):
    campaign, item, clause, third = discussed
    UserFactory(email="stranger@elsewhere.test")  # has an account, is no member
    threads.comment_post(
        ref=_ref(personas, personas.reviewer, campaign, item, clause),
        author=personas.reviewer,
        body="@third (still labeling: blind) @stranger @viewer @reviewer (me)",
    )
    assert not Notification.objects.exists()
    assert not Comment.objects.get().mentions.exists()


@pytest.mark.django_db
def test_a_local_part_two_members_share_mentions_neither(personas, discussed):
    campaign, item, clause, _ = discussed
    for email in ("sam@one.test", "sam@two.test"):
        Membership.objects.create(
            workspace=personas.workspace, user=UserFactory(email=email), role=Role.ADJUDICATOR
        )
    ref = _ref(personas, personas.reviewer, campaign, item, clause)
    threads.comment_post(ref=ref, author=personas.reviewer, body="@sam?")
    assert not Notification.objects.exists()
    threads.comment_post(ref=ref, author=personas.reviewer, body="@sam@two.test?")
    assert list(Notification.objects.values_list("recipient__email", flat=True)) == ["sam@two.test"]


def _edit_url(personas, campaign, item, clause, comment, api=False):  # type: ignore[no-untyped-def]
    name = "api-comment-detail" if api else "reviews:comment-edit"
    return reverse(
        name, args=[personas.workspace.slug, campaign.pk, item.pk, clause.key, comment.pk]
    )


@pytest.mark.django_db
def test_an_author_edits_their_comment_and_the_page_shows_its_history(personas, discussed):
    campaign, item, clause, _ = discussed
    comment = threads.comment_post(
        ref=_ref(personas, personas.reviewer, campaign, item, clause),
        author=personas.reviewer,
        body="First thought",
    )
    client = personas.client_for(personas.reviewer)
    response = client.post(
        _edit_url(personas, campaign, item, clause, comment),
        {"body": "Second thought, @second-reviewer", "revision": 1},
    )
    assert response.status_code == 302
    comment.refresh_from_db()
    assert (comment.body, comment.revision) == ("Second thought, @second-reviewer", 2)
    [old] = CommentRevision.objects.filter(comment=comment)
    assert (old.body, old.revision, old.edited_by) == ("First thought", 1, personas.reviewer)
    page = client.get(_thread_url(personas, campaign, item, clause)).content.decode()
    assert "1 earlier version" in page and "First thought" in page and "Second thought" in page
    # A mention added by the edit notifies once; editing again does not notify again.
    assert Notification.objects.filter(recipient=personas.second_reviewer).count() == 1
    api = client.patch(
        _edit_url(personas, campaign, item, clause, comment, api=True),
        {"body": "Third, @second-reviewer", "revision": 2},
        content_type="application/json",
    )
    assert api.status_code == 200 and [v["body"] for v in api.json()["history"]] == [
        "First thought",
        "Second thought, @second-reviewer",
    ]
    assert Notification.objects.filter(recipient=personas.second_reviewer).count() == 1


@pytest.mark.django_db
def test_only_the_author_may_edit_a_comment(personas, discussed):
    campaign, item, clause, _ = discussed
    comment = threads.comment_post(
        ref=_ref(personas, personas.reviewer, campaign, item, clause),
        author=personas.reviewer,
        body="Mine",
    )
    for user in (personas.second_reviewer, personas.owner):
        client = personas.client_for(user)
        page = client.post(
            _edit_url(personas, campaign, item, clause, comment), {"body": "x", "revision": 1}
        )
        api = client.patch(
            _edit_url(personas, campaign, item, clause, comment, api=True),
            {"body": "x", "revision": 1},
            content_type="application/json",
        )
        assert (page.status_code, api.status_code) == (403, 403)
    comment.refresh_from_db()
    assert comment.body == "Mine" and not CommentRevision.objects.exists()


@pytest.mark.django_db
def test_a_stale_edit_gets_409_with_the_current_comment(personas, discussed):
    campaign, item, clause, _ = discussed
    ref = _ref(personas, personas.reviewer, campaign, item, clause)
    comment = threads.comment_post(ref=ref, author=personas.reviewer, body="One")
    threads.comment_edit(ref=ref, comment=comment, editor=personas.reviewer, body="Two", revision=1)
    client = personas.client_for(personas.reviewer)
    api = client.patch(
        _edit_url(personas, campaign, item, clause, comment, api=True),
        {"body": "From an old tab", "revision": 1},
        content_type="application/json",
    )
    assert api.status_code == 409
    assert api.json()["current"]["body"] == "Two" and api.json()["current"]["revision"] == 2
    page = client.post(
        _edit_url(personas, campaign, item, clause, comment),
        {"body": "From an old tab", "revision": 1},
    )
    assert page.status_code == 409 and b"changed since you opened it" in page.content
    comment.refresh_from_db()
    assert comment.body == "Two"


@pytest.mark.django_db
def test_a_comment_of_another_thread_is_404_under_this_one(personas, discussed):
    campaign, item, clause, _ = discussed
    other_clause = campaign.campaign_clauses.order_by("position").last().clause
    comment = threads.comment_post(
        ref=_ref(personas, personas.reviewer, campaign, item, other_clause),
        author=personas.reviewer,
        body="Elsewhere",
    )
    response = personas.client_for(personas.reviewer).patch(
        _edit_url(personas, campaign, item, clause, comment, api=True),
        {"body": "x", "revision": 1},
        content_type="application/json",
    )
    assert response.status_code == 404


@pytest.mark.django_db
def test_marking_notifications_read_clears_the_unread_count(personas, discussed):
    campaign, item, clause, _ = discussed
    threads.comment_post(
        ref=_ref(personas, personas.reviewer, campaign, item, clause),
        author=personas.reviewer,
        body="@second-reviewer",
    )
    client = personas.client_for(personas.second_reviewer)
    client.post(reverse("reviews:notifications-read", args=[personas.workspace.slug]))
    assert not Notification.objects.filter(read_at__isnull=True).exists()
